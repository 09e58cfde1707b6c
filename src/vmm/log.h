/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KRUN_LOG_H
#define KRUN_LOG_H

#include <stdbool.h>
#include <stdint.h>

/* Levels are the KRUN_LOG_LEVEL_* values of the public header. */
int log_configure(int target_fd, uint32_t level, uint32_t style, bool allow_env);
int log_set_level(uint32_t level);
bool log_enabled(uint32_t level);
/* Where log lines go (for a signal handler that writes one itself). */
int log_get_fd(void);
void log_msg(uint32_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define pr_err(...)   log_msg(1, __VA_ARGS__)
#define pr_warn(...)  log_msg(2, __VA_ARGS__)
#define pr_info(...)  log_msg(3, __VA_ARGS__)
#define pr_debug(...) log_msg(4, __VA_ARGS__)
#define pr_trace(...) log_msg(5, __VA_ARGS__)

/*
 * Rate limiting for everything a guest can trigger: a guest that repeats a
 * bad request must not flood the host's log. Each call site gets its own
 * budget of LOG_RATELIMIT_BURST lines per LOG_RATELIMIT_INTERVAL_S seconds;
 * the first line after a quiet period says how many were suppressed.
 */
#define LOG_RATELIMIT_BURST	 5
#define LOG_RATELIMIT_INTERVAL_S 5

struct log_ratelimit {
	uint64_t window_start_ns; /* 0: never used */
	unsigned int printed;	  /* lines in the current window */
	unsigned int suppressed;  /* since the last printed line */
};

/*
 * Should a line be printed at now_ns? *suppressed gets the number of lines
 * dropped since the last printed one (to mention in it). Thread-safe.
 */
bool log_ratelimit_allow(struct log_ratelimit *rl, uint64_t now_ns, unsigned int *suppressed);
void log_msg_limited(struct log_ratelimit *rl, uint32_t level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define LOG_LIMITED(level, ...)                                                                    \
	do {                                                                                       \
		static struct log_ratelimit rl_;                                                   \
		log_msg_limited(&rl_, level, __VA_ARGS__);                                         \
	} while (0)

/* Guest-triggered warnings and errors: always through these. */
#define pr_warn_guest(...) LOG_LIMITED(2, __VA_ARGS__)
#define pr_err_guest(...)  LOG_LIMITED(1, __VA_ARGS__)

#endif
