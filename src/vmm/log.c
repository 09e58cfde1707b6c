// SPDX-License-Identifier: Apache-2.0
/*
 * Library log: one line per message, "[krun LEVEL] text", to stderr or the
 * fd given to krun_init_log(). The KRUN_LOG_LEVEL environment variable
 * (a number 0-5 or off/error/warn/info/debug/trace), or else RUST_LOG as
 * upstream reads it, overrides the level unless the caller passed
 * KRUN_LOG_OPTION_NO_ENV.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "libkrun.h"
#include "vmm/log.h"
#include "vmm/util.h"

static const char *const level_names[] = {"off", "error", "warn", "info", "debug", "trace"};
static const char *const level_colors[] = {"",	       "\033[31m", "\033[33m",
					   "\033[32m", "\033[36m", "\033[90m"};

static struct {
	pthread_mutex_t lock;
	bool configured;
	int fd;
	uint32_t level;
	bool color;
} log_state = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .fd = STDERR_FILENO,
    .level = KRUN_LOG_LEVEL_WARN,
};

static int parse_level(const char *s, uint32_t *level)
{
	for (uint32_t i = 0; i < ARRAY_SIZE(level_names); i++) {
		if (!strcasecmp(s, level_names[i]) || (s[0] == (char)('0' + i) && !s[1])) {
			*level = i;
			return 0;
		}
	}
	return -EINVAL;
}

/*
 * RUST_LOG, as upstream libkrun reads it: comma-separated "LEVEL" or
 * "TARGET=LEVEL" entries; a bare level, or one for a target that starts
 * with "krun" or "libkrun", applies. Other entries are someone else's.
 */
static int parse_rust_log(const char *env, uint32_t *level)
{
	char buf[256], *save, *entry;
	int found = -ENOENT;

	snprintf(buf, sizeof(buf), "%s", env);
	for (entry = strtok_r(buf, ",", &save); entry; entry = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(entry, '=');

		if (eq && strncmp(entry, "krun", 4) && strncmp(entry, "libkrun", 7))
			continue;
		if (parse_level(eq ? eq + 1 : entry, level) == 0)
			found = 0;
	}
	return found;
}

/* KRUN_LOG_LEVEL first, then RUST_LOG. */
static void apply_env_level(void)
{
	const char *env = getenv("KRUN_LOG_LEVEL");

	if (env) {
		if (parse_level(env, &log_state.level) < 0)
			fprintf(stderr, "[krun warn] ignoring KRUN_LOG_LEVEL=%s\n", env);
		return;
	}
	env = getenv("RUST_LOG");
	if (env)
		parse_rust_log(env, &log_state.level);
}

/* First use without krun_init_log(): defaults plus the environment. */
static void ensure_configured(void)
{
	if (log_state.configured)
		return;
	log_state.configured = true;
	log_state.color = isatty(log_state.fd);
	apply_env_level();
}

int log_configure(int target_fd, uint32_t level, uint32_t style, bool allow_env)
{
	if (level > KRUN_LOG_LEVEL_TRACE || style > KRUN_LOG_STYLE_NEVER || target_fd < -1)
		return -EINVAL;

	pthread_mutex_lock(&log_state.lock);
	log_state.configured = true;
	log_state.fd = target_fd == KRUN_LOG_TARGET_DEFAULT ? STDERR_FILENO : target_fd;
	log_state.level = level;
	if (style == KRUN_LOG_STYLE_AUTO)
		log_state.color = isatty(log_state.fd);
	else
		log_state.color = style == KRUN_LOG_STYLE_ALWAYS;
	if (allow_env)
		apply_env_level();
	pthread_mutex_unlock(&log_state.lock);
	return 0;
}

int log_set_level(uint32_t level)
{
	if (level > KRUN_LOG_LEVEL_TRACE)
		return -EINVAL;
	pthread_mutex_lock(&log_state.lock);
	ensure_configured();
	log_state.level = level;
	pthread_mutex_unlock(&log_state.lock);
	return 0;
}

bool log_enabled(uint32_t level)
{
	bool on;

	pthread_mutex_lock(&log_state.lock);
	ensure_configured();
	on = level && level <= log_state.level;
	pthread_mutex_unlock(&log_state.lock);
	return on;
}

static void log_vmsg(uint32_t level, unsigned int suppressed, const char *fmt, va_list ap)
{
	char line[1024];
	int n;

	n = snprintf(line, sizeof(line), "%s[krun %s]%s ",
		     log_state.color ? level_colors[level] : "", level_names[level],
		     log_state.color ? "\033[0m" : "");
	vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	n = (int)strnlen(line, sizeof(line) - 2);
	if (suppressed)
		n += snprintf(line + n, sizeof(line) - (size_t)n - 1,
			      " (%u similar messages suppressed)", suppressed);
	n = (int)strnlen(line, sizeof(line) - 2);
	line[n++] = '\n';
	/* One write per line keeps lines from concurrent threads whole. */
	if (write_full(log_state.fd, line, (size_t)n) < 0) {
		/* Nowhere left to report it. */
	}
}

void log_msg(uint32_t level, const char *fmt, ...)
{
	va_list ap;

	if (!log_enabled(level))
		return;
	va_start(ap, fmt);
	log_vmsg(level, 0, fmt, ap);
	va_end(ap);
}

/* One lock for every limiter: only taken on the (rare, slow) warning path. */
static pthread_mutex_t ratelimit_lock = PTHREAD_MUTEX_INITIALIZER;

bool log_ratelimit_allow(struct log_ratelimit *rl, uint64_t now_ns, unsigned int *suppressed)
{
	const uint64_t interval = (uint64_t)LOG_RATELIMIT_INTERVAL_S * 1000000000ULL;
	bool allow;

	pthread_mutex_lock(&ratelimit_lock);
	if (!rl->window_start_ns || now_ns - rl->window_start_ns >= interval) {
		rl->window_start_ns = now_ns ? now_ns : 1;
		rl->printed = 0;
	}
	allow = rl->printed < LOG_RATELIMIT_BURST;
	if (allow) {
		rl->printed++;
		*suppressed = rl->suppressed;
		rl->suppressed = 0;
	} else {
		rl->suppressed++;
	}
	pthread_mutex_unlock(&ratelimit_lock);
	return allow;
}

void log_msg_limited(struct log_ratelimit *rl, uint32_t level, const char *fmt, ...)
{
	struct timespec now;
	unsigned int suppressed;
	va_list ap;

	if (!log_enabled(level))
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!log_ratelimit_allow(rl, (uint64_t)now.tv_sec * 1000000000ULL + (uint64_t)now.tv_nsec,
				 &suppressed))
		return;
	va_start(ap, fmt);
	log_vmsg(level, suppressed, fmt, ap);
	va_end(ap);
}

int log_get_fd(void)
{
	return log_state.fd;
}
