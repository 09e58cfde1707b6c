// SPDX-License-Identifier: Apache-2.0
/*
 * /.krun_config.json: the container's configuration, written into the root
 * by an OCI runtime (crun's krun handler copies the bundle's config.json
 * there) or by an image tool. Read after the VMM's own records
 * (config.c), it fills in what they leave open, as upstream libkrun's init:
 *
 *   argv     Entrypoint + args (or Cmd), when no exec record (krun_set_exec)
 *   env      env (or Env): added where the records' environment lacks the
 *            name; HOME and TERM from the file replace the records' ones
 *   workdir  cwd (or WorkingDir), when no workdir record (krun_set_workdir)
 *
 * Member names match ignoring case. Each is looked for in the OCI
 * "process" object, then in an image's "config" object, then at the top
 * level; the first object that has one wins (nothing is taken from other
 * depths: a hook's "args" is not the workload's). null counts as absent.
 *
 * Also from the OCI spec, for what an OCI runtime leaves to the guest (it
 * applies them to the VMM process, not to the workload): process.user
 * uid/gid (unless uid/gid records), process.rlimits (those the records do
 * not set), hostname (unless a hostname record), process.terminal.
 *
 * A file that cannot be read or parsed, or a member of the wrong type, is
 * an error: init says where and why and exits 125. No file: nothing to do.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "init.h"
#include "json.h"

/* A config.json is some kB; image configs with long histories some 100 kB. */
#define OCI_CONFIG_MAX_BYTES (16u << 20)
#define OCI_MAX_LIST	     4096 /* args, env entries, rlimits */
#define HOSTNAME_MAX	     64

struct oci_ctx {
	const char *path;
	struct json_doc doc;
	const struct json_node *scopes[3]; /* process, config, top level */
};

static int read_file(const char *path, char **data, size_t *len)
{
	size_t cap = 16384, n = 0;
	char *buf = NULL, *bigger;
	ssize_t got;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (;;) {
		if (!buf || n == cap) {
			if (buf)
				cap *= 2;
			bigger = cap <= OCI_CONFIG_MAX_BYTES ? realloc(buf, cap + 1) : NULL;
			if (!bigger) {
				err = cap <= OCI_CONFIG_MAX_BYTES ? -ENOMEM : -EFBIG;
				break;
			}
			buf = bigger;
		}
		got = read(fd, buf + n, cap - n);
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

/* The first member named one of @names (NULL-ended) in the first scope that has one. */
static const struct json_node *lookup(const struct oci_ctx *c, const char *const names[])
{
	for (size_t s = 0; s < 3; s++) {
		for (size_t i = 0; names[i]; i++) {
			const struct json_node *m = json_member(&c->doc, c->scopes[s], names[i]);

			if (m && m->type != JSON_NULL)
				return m;
		}
	}
	return NULL;
}

static int bad(const struct oci_ctx *c, const struct json_node *n, const char *what)
{
	say("%s: \"%.*s\" must be %s, not %s", c->path, (int)(n->key_len > 64 ? 64 : n->key_len),
	    n->key ? n->key : "", what, json_type_name(n->type));
	return -1;
}

/*
 * @n: an array of strings without NUL. Their values go to @out[*count...]
 * (which has room for OCI_MAX_LIST more).
 */
static int string_list(const struct oci_ctx *c, const struct json_node *n, char **out,
		       size_t *count)
{
	size_t added = 0;

	if (n->type != JSON_ARRAY)
		return bad(c, n, "an array of strings");
	if (n->count > OCI_MAX_LIST) {
		say("%s: \"%s\" has more than %d entries", c->path, n->key, OCI_MAX_LIST);
		return -1;
	}
	for (const struct json_node *e = json_first(&c->doc, n); e; e = json_next(&c->doc, e)) {
		const char *s = json_cstring(e);

		if (!s) {
			say("%s: \"%s\" must hold strings without NUL bytes (entry %zu is %s)",
			    c->path, n->key, added, json_type_name(e->type));
			return -1;
		}
		out[(*count)++] = (char *)s;
		added++;
	}
	return 0;
}

static int apply_argv(const struct oci_ctx *c, struct config *cfg)
{
	static const char *const entry_names[] = {"Entrypoint", NULL};
	static const char *const args_names[] = {"args", "Cmd", NULL};
	const struct json_node *entry = lookup(c, entry_names), *args = lookup(c, args_names);
	size_t n = 0;
	char **argv;

	if (cfg->exec || (!entry && !args))
		return 0;
	argv = calloc(2 * OCI_MAX_LIST + 1, sizeof(*argv));
	if (!argv) {
		say("%s: out of memory", c->path);
		return -1;
	}
	if ((entry && string_list(c, entry, argv, &n) < 0) ||
	    (args && string_list(c, args, argv, &n) < 0)) {
		free(argv);
		return -1;
	}
	if (!n) { /* both empty: the default program runs */
		free(argv);
		return 0;
	}
	free(cfg->argv);
	cfg->argv = argv;
	cfg->exec = argv[0];
	return 0;
}

static bool is_name(const char *var, const char *name)
{
	size_t len = strlen(name);

	return !strncmp(var, name, len) && var[len] == '=';
}

/* Index of the variable of @var's name in @envp[0..n), or -1. */
static long env_find(char **envp, size_t n, const char *var)
{
	size_t len = (size_t)(strchr(var, '=') - var);

	for (size_t i = 0; i < n; i++) {
		if (!strncmp(envp[i], var, len) && envp[i][len] == '=')
			return (long)i;
	}
	return -1;
}

static int apply_env(const struct oci_ctx *c, struct config *cfg)
{
	static const char *const names[] = {"env", NULL};
	const struct json_node *env = lookup(c, names);
	char **file_env, **envp;
	size_t nfile = 0, n;

	if (!env)
		return 0;
	file_env = calloc(OCI_MAX_LIST, sizeof(*file_env));
	if (!file_env || string_list(c, env, file_env, &nfile) < 0) {
		if (!file_env)
			say("%s: out of memory", c->path);
		free(file_env);
		return -1;
	}
	envp = calloc(cfg->nenv + nfile + ENV_DEFAULTS_MAX + 1, sizeof(*envp));
	if (!envp) {
		say("%s: out of memory", c->path);
		free(file_env);
		return -1;
	}
	memcpy(envp, cfg->envp, cfg->nenv * sizeof(*envp));
	n = cfg->nenv;
	for (size_t i = 0; i < nfile; i++) {
		char *var = file_env[i];
		long at;

		if (!strchr(var, '=') || var[0] == '=') /* no name: skipped, as upstream */
			continue;
		at = env_find(envp, n, var);
		if (at < 0)
			envp[n++] = var;
		else if (is_name(var, "HOME") || is_name(var, "TERM"))
			envp[at] = var;
	}
	free(file_env);
	free(cfg->envp);
	cfg->envp = envp;
	cfg->nenv = n;
	return 0;
}

static int apply_cwd(const struct oci_ctx *c, struct config *cfg)
{
	static const char *const names[] = {"cwd", "WorkingDir", NULL};
	const struct json_node *cwd = lookup(c, names);
	const char *s;

	if (cfg->workdir_set || !cwd)
		return 0;
	s = json_cstring(cwd);
	if (!s)
		return bad(c, cwd, "a string without NUL bytes");
	if (*s) /* an image's "WorkingDir": "" means the default */
		cfg->workdir = s;
	return 0;
}

static int id_member(const struct oci_ctx *c, const struct json_node *user, const char *name,
		     bool already, unsigned int *id)
{
	const struct json_node *n = json_member(&c->doc, user, name);
	uint64_t v;

	if (!n || already)
		return 0;
	/* (uid_t)-1 means "unchanged" to setuid() and friends: refuse it. */
	if (json_uint(n, 0xfffffffeu, &v) < 0)
		return bad(c, n, "an id (0..4294967294)");
	*id = (unsigned int)v;
	return 0;
}

static int apply_user(const struct oci_ctx *c, struct config *cfg)
{
	const struct json_node *process = c->scopes[0];
	const struct json_node *user = json_member(&c->doc, process, "user");

	if (!user || user->type == JSON_NULL)
		return 0;
	if (user->type != JSON_OBJECT)
		return bad(c, user, "an object");
	if (id_member(c, user, "uid", cfg->uid_set, &cfg->uid) < 0 ||
	    id_member(c, user, "gid", cfg->gid_set, &cfg->gid) < 0)
		return -1;
	return 0;
}

static bool rlimit_set(const struct config *cfg, int resource)
{
	for (size_t i = 0; i < cfg->nrlimits; i++) {
		if (cfg->rlimits[i].resource == resource)
			return true;
	}
	return false;
}

static int one_rlimit(const struct oci_ctx *c, const struct json_node *r, struct krun_rlimit *out)
{
	const struct json_node *type = json_member(&c->doc, r, "type");
	const struct json_node *soft = json_member(&c->doc, r, "soft");
	const struct json_node *hard = json_member(&c->doc, r, "hard");
	const char *name = json_cstring(type);
	uint64_t cur, max;

	if (r->type != JSON_OBJECT || !name || !soft || !hard) {
		say("%s: each process.rlimits entry must be an object with \"type\", \"soft\" and "
		    "\"hard\"",
		    c->path);
		return -1;
	}
	out->resource = rlimit_resource(name, strlen(name));
	if (out->resource < 0) {
		say("%s: unknown rlimit type \"%.64s\"", c->path, name);
		return -1;
	}
	if (json_uint(soft, UINT64_MAX, &cur) < 0 || json_uint(hard, UINT64_MAX, &max) < 0) {
		say("%s: rlimit %s: soft and hard must be numbers 0..2^64-1", c->path, name);
		return -1;
	}
	out->limit.rlim_cur = (rlim_t)cur;
	out->limit.rlim_max = (rlim_t)max;
	return 0;
}

static int apply_rlimits(const struct oci_ctx *c, struct config *cfg)
{
	const struct json_node *list = json_member(&c->doc, c->scopes[0], "rlimits");
	struct krun_rlimit *all;
	size_t n = cfg->nrlimits;

	if (!list || list->type == JSON_NULL)
		return 0;
	if (list->type != JSON_ARRAY)
		return bad(c, list, "an array");
	if (list->count > OCI_MAX_LIST) {
		say("%s: more than %d rlimits", c->path, OCI_MAX_LIST);
		return -1;
	}
	all = calloc(cfg->nrlimits + list->count + 1, sizeof(*all));
	if (!all) {
		say("%s: out of memory", c->path);
		return -1;
	}
	memcpy(all, cfg->rlimits, cfg->nrlimits * sizeof(*all));
	for (const struct json_node *r = json_first(&c->doc, list); r; r = json_next(&c->doc, r)) {
		if (one_rlimit(c, r, &all[n]) < 0) {
			free(all);
			return -1;
		}
		/* The records' (krun_set_rlimits) win; so does a resource's first entry. */
		if (!rlimit_set(cfg, all[n].resource)) {
			bool dup = false;

			for (size_t i = cfg->nrlimits; i < n; i++)
				dup |= all[i].resource == all[n].resource;
			n += !dup;
		}
	}
	free(cfg->rlimits);
	cfg->rlimits = all;
	cfg->nrlimits = n;
	return 0;
}

static int apply_hostname(const struct oci_ctx *c, struct config *cfg)
{
	const struct json_node *h = json_member(&c->doc, json_root(&c->doc), "hostname");
	const char *s;

	if (cfg->hostname_set || !h || h->type == JSON_NULL)
		return 0;
	s = json_cstring(h);
	if (!s || strlen(s) > HOSTNAME_MAX)
		return bad(c, h, "a string of at most 64 bytes");
	if (*s)
		cfg->hostname = s;
	return 0;
}

static int apply_terminal(const struct oci_ctx *c, struct config *cfg)
{
	const struct json_node *t = json_member(&c->doc, c->scopes[0], "terminal");

	if (!t || t->type == JSON_NULL)
		return 0;
	if (t->type != JSON_TRUE && t->type != JSON_FALSE)
		return bad(c, t, "a boolean");
	cfg->terminal = t->type == JSON_TRUE;
	return 0;
}

/* The object member @name of @obj, or NULL; anything else there is an error. */
static int scope(const struct oci_ctx *c, const struct json_node *obj, const char *name,
		 const struct json_node **out)
{
	const struct json_node *m = json_member(&c->doc, obj, name);

	*out = NULL;
	if (!m || m->type == JSON_NULL)
		return 0;
	if (m->type != JSON_OBJECT)
		return bad(c, m, "an object");
	*out = m;
	return 0;
}

int oci_config_apply(struct config *cfg, const char *path, char *text, size_t len)
{
	struct oci_ctx c = {.path = path};
	struct json_error err;
	int ret;

	if (json_parse(&c.doc, text, len, &err) < 0) {
		say("%s:%u:%u: invalid JSON: %s", path, err.line, err.column, err.msg);
		return -1;
	}
	if (json_root(&c.doc)->type != JSON_OBJECT) {
		say("%s: the document must be an object, not %s", path,
		    json_type_name(json_root(&c.doc)->type));
		json_free(&c.doc);
		return -1;
	}
	c.scopes[2] = json_root(&c.doc);
	ret = scope(&c, c.scopes[2], "process", &c.scopes[0]);
	if (!ret)
		ret = scope(&c, c.scopes[2], "config", &c.scopes[1]);
	if (!ret)
		ret = apply_argv(&c, cfg) ?: apply_env(&c, cfg) ?: apply_cwd(&c, cfg)
			  ?: apply_user(&c, cfg) ?: apply_rlimits(&c, cfg)
			  ?: apply_hostname(&c, cfg) ?: apply_terminal(&c, cfg);
	/* Strings point into @text, which stays; only the node table goes. */
	json_free(&c.doc);
	return ret;
}

int oci_config_load(const char *path, struct config *cfg)
{
	size_t len = 0;
	char *text = NULL;
	int err;

	err = read_file(path, &text, &len);
	if (err == -ENOENT)
		return 0;
	if (err) {
		/* The host side answers as the VMM's user, not as root in the guest. */
		say("cannot read %s: %s%s", path, strerror(-err),
		    err == -EACCES ? " (the VMM process may not: an OCI runtime that runs it as a "
				     "non-root process.user must leave it CAP_DAC_OVERRIDE)"
				   : "");
		return -1;
	}
	if (oci_config_apply(cfg, path, text, len) < 0) {
		free(text);
		return -1;
	}
	return 0; /* text stays allocated: the config points into it */
}
