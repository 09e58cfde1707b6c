/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KRUN_LOG_H
#define KRUN_LOG_H

#include <stdbool.h>
#include <stdint.h>

/* Levels are the KRUN_LOG_LEVEL_* values of the public header. */
int log_configure(int target_fd, uint32_t level, uint32_t style, bool allow_env);
int log_set_level(uint32_t level);
bool log_enabled(uint32_t level);
void log_msg(uint32_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define pr_err(...)   log_msg(1, __VA_ARGS__)
#define pr_warn(...)  log_msg(2, __VA_ARGS__)
#define pr_info(...)  log_msg(3, __VA_ARGS__)
#define pr_debug(...) log_msg(4, __VA_ARGS__)
#define pr_trace(...) log_msg(5, __VA_ARGS__)

#endif
