// SPDX-License-Identifier: Apache-2.0
/*
 * The config file: NUL-ended "key=value" records (src/guest_abi.h). It is
 * read once, whole, into one buffer that stays allocated: every string of
 * struct config points into it. The last record may lack its NUL (one is
 * appended after the data), empty records and unknown keys are skipped,
 * and a repeated single-valued key (exec, workdir, ...) keeps its last value.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "guest_abi.h"
#include "init.h"

/* Far above any real command line (the kernel's ARG_MAX is much smaller). */
#define CONFIG_MAX_BYTES (64u << 20)

static int read_whole_file(const char *path, char **data, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf = NULL, *bigger;
	ssize_t got;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (;;) {
		if (!buf || n + 1 == cap) {
			if (buf)
				cap *= 2;
			bigger = cap <= CONFIG_MAX_BYTES ? realloc(buf, cap) : NULL;
			if (!bigger) {
				err = cap <= CONFIG_MAX_BYTES ? -ENOMEM : -EFBIG;
				break;
			}
			buf = bigger;
		}
		got = read(fd, buf + n, cap - n - 1);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			err = got < 0 ? -errno : 0;
			break;
		}
		n += (size_t)got;
	}
	close(fd);
	if (err) {
		free(buf);
		return err;
	}
	buf[n] = '\0';
	*data = buf;
	*len = n;
	return 0;
}

/* Returns the value of record @rec if its key is @key, else NULL. */
static char *record_value(char *rec, const char *key)
{
	size_t klen = strlen(key);

	if (strncmp(rec, key, klen) || rec[klen] != '=')
		return NULL;
	return rec + klen + 1;
}

static int parse_decimal(const char *s, unsigned long long max, unsigned long long *out)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return (errno || *end || *out > max) ? -1 : 0;
}

static int parse_id(const char *s, unsigned int *id)
{
	unsigned long long v;

	/* (uid_t)-1 means "unchanged" to setuid() and friends: refuse it. */
	if (parse_decimal(s, 0xfffffffeu, &v) < 0)
		return -1;
	*id = (unsigned int)v;
	return 0;
}

static const char *const rlimit_names[] = {
    [RLIMIT_CPU] = "CPU",	    [RLIMIT_FSIZE] = "FSIZE",
    [RLIMIT_DATA] = "DATA",	    [RLIMIT_STACK] = "STACK",
    [RLIMIT_CORE] = "CORE",	    [RLIMIT_RSS] = "RSS",
    [RLIMIT_NPROC] = "NPROC",	    [RLIMIT_NOFILE] = "NOFILE",
    [RLIMIT_MEMLOCK] = "MEMLOCK",   [RLIMIT_AS] = "AS",
    [RLIMIT_LOCKS] = "LOCKS",	    [RLIMIT_SIGPENDING] = "SIGPENDING",
    [RLIMIT_MSGQUEUE] = "MSGQUEUE", [RLIMIT_NICE] = "NICE",
    [RLIMIT_RTPRIO] = "RTPRIO",	    [RLIMIT_RTTIME] = "RTTIME",
};

/* "RLIMIT_NOFILE", "nofile" or "7" (the resource's number); -1 if none. */
int rlimit_resource(const char *name, size_t len)
{
	char num[8];
	unsigned long long v;

	if (len > 7 && !strncasecmp(name, "RLIMIT_", 7)) {
		name += 7;
		len -= 7;
	}
	for (size_t i = 0; i < sizeof(rlimit_names) / sizeof(rlimit_names[0]); i++) {
		if (rlimit_names[i] && strlen(rlimit_names[i]) == len &&
		    !strncasecmp(name, rlimit_names[i], len))
			return (int)i;
	}
	if (!len || len >= sizeof(num))
		return -1;
	memcpy(num, name, len);
	num[len] = '\0';
	if (parse_decimal(num, RLIM_NLIMITS - 1, &v) < 0)
		return -1;
	return (int)v;
}

static int parse_rlimit_value(const char *s, rlim_t *out)
{
	unsigned long long v;

	if (!strcasecmp(s, "unlimited") || !strcasecmp(s, "infinity")) {
		*out = RLIM_INFINITY;
		return 0;
	}
	if (parse_decimal(s, RLIM_INFINITY, &v) < 0)
		return -1;
	*out = (rlim_t)v;
	return 0;
}

/* "RES=CUR:MAX"; a lone "RES=N" sets both. Modifies @spec (splits it). */
static int parse_rlimit(char *spec, struct krun_rlimit *rl)
{
	char *eq = strchr(spec, '='), *colon;

	if (!eq)
		return -1;
	rl->resource = rlimit_resource(spec, (size_t)(eq - spec));
	if (rl->resource < 0)
		return -1;
	colon = strchr(eq + 1, ':');
	if (colon)
		*colon = '\0';
	if (parse_rlimit_value(eq + 1, &rl->limit.rlim_cur) < 0)
		return -1;
	if (!colon) {
		rl->limit.rlim_max = rl->limit.rlim_cur;
		return 0;
	}
	return parse_rlimit_value(colon + 1, &rl->limit.rlim_max);
}

/* "TAG:PATH": the tag ends at the first ':', the path must be absolute. */
static int parse_mount(char *spec, struct krun_mount *m)
{
	char *colon = strchr(spec, ':');

	if (!colon || colon == spec || colon[1] != '/')
		return -1;
	*colon = '\0';
	m->tag = spec;
	m->path = colon + 1;
	return 0;
}

struct record_counts {
	size_t args, envs, rlimits, mounts, net_dhcp;
};

static void count_records(char *data, size_t len, struct record_counts *c)
{
	for (char *rec = data; rec < data + len; rec += strlen(rec) + 1) {
		c->args += record_value(rec, "arg") != NULL;
		c->envs += record_value(rec, "env") != NULL;
		c->rlimits += record_value(rec, "rlimit") != NULL;
		c->mounts += record_value(rec, "mount") != NULL;
		c->net_dhcp += record_value(rec, "net_dhcp") != NULL;
	}
}

static int allocate_lists(struct config *cfg, const struct record_counts *c)
{
	/* argv: exec + args + NULL; envp: envs + defaults + NULL. */
	cfg->argv = calloc(c->args + 2, sizeof(char *));
	cfg->envp = calloc(c->envs + ENV_DEFAULTS_MAX + 1, sizeof(char *));
	cfg->rlimits = calloc(c->rlimits + 1, sizeof(*cfg->rlimits));
	cfg->mounts = calloc(c->mounts + 1, sizeof(*cfg->mounts));
	cfg->net_dhcp = calloc(c->net_dhcp + 1, sizeof(*cfg->net_dhcp));
	return cfg->argv && cfg->envp && cfg->rlimits && cfg->mounts && cfg->net_dhcp ? 0 : -1;
}

/* Stores one record; returns -1 (after saying why) if its value is bad. */
static int apply_record(struct config *cfg, char *rec, size_t *nargs)
{
	char *v;
	int err = 0;

	if ((v = record_value(rec, "exec")))
		cfg->exec = *v ? v : NULL;
	else if ((v = record_value(rec, "default_exec")))
		cfg->default_exec = *v ? v : NULL;
	else if ((v = record_value(rec, "arg")))
		cfg->argv[1 + (*nargs)++] = v;
	else if ((v = record_value(rec, "env")))
		cfg->envp[cfg->nenv++] = v;
	else if ((v = record_value(rec, "workdir")))
		cfg->workdir = v, cfg->workdir_set = true;
	else if ((v = record_value(rec, "hostname")))
		cfg->hostname = v, cfg->hostname_set = true;
	else if ((v = record_value(rec, "uid")))
		err = parse_id(v, &cfg->uid), cfg->uid_set = true;
	else if ((v = record_value(rec, "gid")))
		err = parse_id(v, &cfg->gid), cfg->gid_set = true;
	else if ((v = record_value(rec, "rlimit")))
		err = parse_rlimit(v, &cfg->rlimits[cfg->nrlimits++]);
	else if ((v = record_value(rec, "mount")))
		err = parse_mount(v, &cfg->mounts[cfg->nmounts++]);
	else if ((v = record_value(rec, "port")))
		cfg->ports |= stdio_port_bit(v);
	else if ((v = record_value(rec, "root_disk")))
		cfg->root_disk = *v == '/' ? v : NULL;
	else if ((v = record_value(rec, "root_fstype")))
		cfg->root_fstype = *v ? v : NULL;
	else if ((v = record_value(rec, "root_options")))
		cfg->root_options = *v ? v : NULL;
	else if ((v = record_value(rec, "net_dhcp")) && *v)
		cfg->net_dhcp[cfg->nnet_dhcp++] = v;
	if (err)
		say("config: bad record \"%.200s\"", rec);
	return err;
}

int config_load(const char *path, struct config *cfg)
{
	struct record_counts counts = {0};
	size_t len = 0, nargs = 0;
	char *data = NULL;
	int err;

	err = read_whole_file(path, &data, &len);
	if (err) {
		say("cannot read the config %s: %s", path, strerror(-err));
		return -1;
	}
	count_records(data, len, &counts);
	if (allocate_lists(cfg, &counts) < 0) {
		say("config: out of memory");
		return -1;
	}
	cfg->workdir = "/";
	cfg->hostname = "krun";
	for (char *rec = data, *next; rec < data + len; rec = next) {
		/* Parsing may split the record: find the next one first. */
		next = rec + strlen(rec) + 1;
		if (apply_record(cfg, rec, &nargs) < 0)
			return -1;
	}
	if (cfg->exec)
		cfg->argv[0] = (char *)cfg->exec;
	return 0;
}

/*
 * After the records and /.krun_config.json: the program is the exec
 * record's, else the file's, else the default_exec record's (the VMM's
 * default when the API named none), else there is nothing to run.
 */
int config_finish(struct config *cfg, const char *path)
{
	if (!cfg->exec && cfg->default_exec) {
		cfg->exec = cfg->default_exec;
		cfg->argv[0] = (char *)cfg->exec;
	}
	if (!cfg->exec) {
		say("config %s: no program to run (no exec record, and no args in %s)", path,
		    KRUN_OCI_CONFIG_PATH);
		return -1;
	}
	return 0;
}

/* The value of NAME in @envp, or NULL. */
const char *env_lookup(char *const envp[], const char *name)
{
	size_t len = strlen(name);

	for (; *envp; envp++) {
		if (!strncmp(*envp, name, len) && (*envp)[len] == '=')
			return *envp + len + 1;
	}
	return NULL;
}

static void env_default(struct config *cfg, const char *name, const char *value)
{
	size_t size = strlen(name) + strlen(value) + 2;
	char *var;

	if (env_lookup(cfg->envp, name))
		return;
	var = malloc(size);
	if (!var)
		return;
	snprintf(var, size, "%s=%s", name, value);
	cfg->envp[cfg->nenv++] = var;
}

/*
 * Variables nearly every program expects, added only when no env record
 * sets them: PATH, HOME (the uid's home in the guest's /etc/passwd, else /),
 * and TERM when the workload talks to the console terminal.
 */
void env_add_defaults(struct config *cfg, bool terminal)
{
	struct passwd *pw = getpwuid(cfg->uid);

	if (cfg->terminal && !terminal)
		say("warning: %s asks for a terminal (process.terminal), but the VMM's stdio is "
		    "not one: the workload gets pipes",
		    KRUN_OCI_CONFIG_PATH);
	env_default(cfg, "PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	env_default(cfg, "HOME", pw && pw->pw_dir && *pw->pw_dir ? pw->pw_dir : "/");
	if (terminal)
		env_default(cfg, "TERM", "xterm-256color");
}
