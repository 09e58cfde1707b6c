// SPDX-License-Identifier: Apache-2.0
/*
 * init/oci_config.c: /.krun_config.json on top of the VMM's records, as
 * crun's krun handler (an OCI config.json) and image tools (an image config)
 * write it; what the records (the API) set wins.
 */
#include <stdarg.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <unistd.h>

#include "guest_abi.h"
#include "init.h"
#include "test.h"

/* init.c and stdio.c, which these files call, are not linked: stand-ins. */
static char said[2048];
void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(said, sizeof(said), fmt, ap);
	va_end(ap);
}

unsigned int stdio_port_bit(const char *name)
{
	(void)name;
	return 0;
}

/*
 * init's config lives as long as PID 1 and is never freed (its strings
 * point into buffers it keeps): no leak reports under ASan (check-asan).
 */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "detect_leaks=0";
}

static struct config cfg;

/* Loads @nrec records (NUL-separated in @records), then @json; the result of both. */
static int load(const char *records, size_t len, const char *json)
{
	char path[] = "/tmp/test_oci_config.XXXXXX";
	int fd = mkstemp(path), ret;
	char *text = json ? strdup(json) : NULL;

	said[0] = '\0';
	memset(&cfg, 0, sizeof(cfg));
	if (fd < 0 || write(fd, records, len) != (ssize_t)len)
		return -99;
	close(fd);
	ret = config_load(path, &cfg);
	unlink(path);
	if (ret < 0)
		return -98;
	if (text && (ret = oci_config_apply(&cfg, "/.krun_config.json", text, strlen(text))) < 0)
		return ret; /* text leaks, as it would stay in init */
	return config_finish(&cfg, "/.krun_config");
}
#define RECORDS(s) s, sizeof(s) - 1

static bool argv_is(const char *const want[])
{
	size_t i;

	for (i = 0; want[i]; i++) {
		if (!cfg.argv[i] || strcmp(cfg.argv[i], want[i]))
			return false;
	}
	return cfg.argv[i] == NULL && cfg.exec && !strcmp(cfg.exec, want[0]);
}

static const char *env(const char *name)
{
	cfg.envp[cfg.nenv] = NULL;
	return env_lookup(cfg.envp, name);
}

/* What crun 1.8.1 writes: the bundle's config.json (shortened). */
static const char crun_config[] =
    "{\"ociVersion\":\"1.0.0\",\"process\":{\"terminal\":false,"
    "\"user\":{\"uid\":1000,\"gid\":100},\"args\":[\"sh\",\"-c\",\"echo \\\"$X\\\"\"],"
    "\"env\":[\"PATH=/usr/bin:/bin\",\"X=only in config.json\",\"HOME=/home/x\",\"TERM=xterm\"],"
    "\"cwd\":\"/tmp\",\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"hard\":2048,\"soft\":1024},"
    "{\"type\":\"RLIMIT_CORE\",\"hard\":0,\"soft\":0}],\"noNewPrivileges\":true},"
    "\"root\":{\"path\":\"rootfs\"},\"hostname\":\"ctr\",\"hooks\":{\"prestart\":"
    "[{\"path\":\"/hook\",\"args\":[\"hook\",\"x\"],\"env\":[\"HOOK=1\"],\"cwd\":\"/h\"}]}}";

static void test_crun_config_alone(void)
{
	/* Newer crun: no krun_set_exec, so only the defaults in the records. */
	CHECK_EQ(load(RECORDS("default_exec=/bin/sh\0"), crun_config), 0);
	CHECK(argv_is((const char *[]){"sh", "-c", "echo \"$X\"", NULL}));
	CHECK(env("X") && !strcmp(env("X"), "only in config.json"));
	CHECK(env("PATH") && !strcmp(env("PATH"), "/usr/bin:/bin"));
	CHECK(!env("HOOK"));
	CHECK(!strcmp(cfg.workdir, "/tmp"));
	CHECK(cfg.uid == 1000 && cfg.gid == 100);
	CHECK_EQ(cfg.nrlimits, 2);
	CHECK(cfg.rlimits[0].resource == RLIMIT_NOFILE && cfg.rlimits[0].limit.rlim_cur == 1024 &&
	      cfg.rlimits[0].limit.rlim_max == 2048);
	CHECK(!strcmp(cfg.hostname, "ctr"));
	CHECK(!cfg.terminal);
}

static void test_records_win(void)
{
	/* crun 1.8.1: krun_set_exec (empty env), krun_set_workdir; plus API ids, rlimits. */
	CHECK_EQ(load(RECORDS("exec=/bin/echo\0arg=hi\0env=X=from api\0env=HOME=/api\0"
			      "workdir=/w\0uid=5\0rlimit=NOFILE=10:20\0hostname=h\0"
			      "default_exec=/bin/sh\0"),
		      crun_config),
		 0);
	CHECK(argv_is((const char *[]){"/bin/echo", "hi", NULL}));
	CHECK(!strcmp(env("X"), "from api"));
	CHECK(!strcmp(env("HOME"), "/home/x")); /* HOME and TERM: the file's */
	CHECK(!strcmp(env("TERM"), "xterm"));
	CHECK(!strcmp(env("PATH"), "/usr/bin:/bin")); /* added: the records lack it */
	CHECK(!strcmp(cfg.workdir, "/w"));
	CHECK(cfg.uid == 5 && cfg.gid == 100); /* gid: no record, the file's */
	CHECK_EQ(cfg.nrlimits, 2);
	CHECK(cfg.rlimits[0].resource == RLIMIT_NOFILE && cfg.rlimits[0].limit.rlim_cur == 10);
	CHECK(cfg.rlimits[1].resource == RLIMIT_CORE);
	CHECK(!strcmp(cfg.hostname, "h"));
}

static void test_image_config(void)
{
	/* Image configs: Entrypoint + Cmd, Env, WorkingDir ("" = the default). */
	CHECK_EQ(load(RECORDS("default_exec=/bin/sh\0"),
		      "{\"architecture\":\"amd64\",\"config\":{\"Entrypoint\":[\"/bin/echo\","
		      "\"a\"],\"Cmd\":[\"b\"],\"Env\":[\"A=1\",\"A=2\",\"=x\",\"noequals\"],"
		      "\"WorkingDir\":\"\"},\"history\":[{\"created_by\":\"args\"}]}"),
		 0);
	CHECK(argv_is((const char *[]){"/bin/echo", "a", "b", NULL}));
	CHECK(!strcmp(env("A"), "1")); /* the first one wins */
	CHECK_EQ(cfg.nenv, 1);
	CHECK(!strcmp(cfg.workdir, "/"));
	/* Top level, other cases, null Entrypoint. */
	CHECK_EQ(load(RECORDS("default_exec=/bin/sh\0"),
		      "{\"ENTRYPOINT\":null,\"cmd\":[\"/bin/true\"],\"workingdir\":\"/x\"}"),
		 0);
	CHECK(argv_is((const char *[]){"/bin/true", NULL}));
	CHECK(!strcmp(cfg.workdir, "/x"));
	/* Nothing in the file: the default program. */
	CHECK_EQ(load(RECORDS("default_exec=/bin/sh\0"), "{\"process\":{\"args\":[]}}"), 0);
	CHECK(argv_is((const char *[]){"/bin/sh", NULL}));
	CHECK_EQ(load(RECORDS("default_exec=/bin/sh\0"), "{}"), 0);
	CHECK(argv_is((const char *[]){"/bin/sh", NULL}));
	/* A hook's args are not the workload's. */
	CHECK_EQ(load(RECORDS(""), "{\"hooks\":{\"poststart\":[{\"args\":[\"/bad\"]}]}}"), -1);
	CHECK(strstr(said, "no program to run") != NULL);
	/* No file, no default: nothing to run (an old VMM's records). */
	CHECK_EQ(load(RECORDS("arg=x\0"), NULL), -1);
}

/* Every malformed file: -1 and a message naming the file and the problem. */
static void test_errors(void)
{
	static const struct {
		const char *json, *says;
	} bad[] = {
	    {"{\"process\": {\"args\": [\"a\",]}}", "/.krun_config.json:1:27: invalid JSON"},
	    {"", "invalid JSON"},
	    {"[1]", "must be an object, not an array"},
	    {"{\"process\": 5}", "\"process\" must be an object"},
	    {"{\"process\": {\"args\": \"sh\"}}", "\"args\" must be an array of strings"},
	    {"{\"process\": {\"args\": [\"sh\", 1]}}", "entry 1 is a number"},
	    {"{\"process\": {\"args\": [\"s\\u0000h\"]}}", "without NUL"},
	    {"{\"process\": {\"env\": {\"A\": \"1\"}}}", "\"env\" must be an array"},
	    {"{\"process\": {\"cwd\": 7}}", "\"cwd\" must be a string"},
	    {"{\"process\": {\"user\": {\"uid\": -1}}}", "\"uid\" must be an id"},
	    {"{\"process\": {\"user\": {\"uid\": 4294967295}}}", "\"uid\" must be an id"},
	    {"{\"process\": {\"user\": {\"gid\": 1.5}}}", "\"gid\" must be an id"},
	    {"{\"process\": {\"user\": []}}", "\"user\" must be an object"},
	    {"{\"process\": {\"rlimits\": [{\"type\": \"RLIMIT_BOGUS\", \"soft\": 1, \"hard\": "
	     "1}]}}",
	     "unknown rlimit type \"RLIMIT_BOGUS\""},
	    {"{\"process\": {\"rlimits\": [{\"type\": \"RLIMIT_NOFILE\", \"soft\": 1}]}}",
	     "\"type\", \"soft\" and \"hard\""},
	    {"{\"process\": {\"rlimits\": [{\"type\": \"RLIMIT_NOFILE\", \"soft\": -1, \"hard\": "
	     "1}]}}",
	     "soft and hard must be numbers"},
	    {"{\"process\": {\"terminal\": \"yes\"}}", "\"terminal\" must be a boolean"},
	    {"{\"hostname\": "
	     "\"01234567890123456789012345678901234567890123456789012345678901234\"}",
	     "at most 64 bytes"},
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_EQ(load(RECORDS("default_exec=/bin/sh\0"), bad[i].json), -1);
		CHECK(strstr(said, "/.krun_config.json") != NULL);
		if (!strstr(said, bad[i].says)) {
			tests_failed++;
			fprintf(stderr, "case %zu: said '%s', want '%s'\n", i, said, bad[i].says);
		} else {
			tests_passed++;
		}
	}
}

static void test_file(void)
{
	char dir[] = "/tmp/test_oci_dir.XXXXXX", path[64];
	FILE *f;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/c.json", dir);
	memset(&cfg, 0, sizeof(cfg));
	CHECK_EQ(oci_config_load(path, &cfg), 0); /* absent: nothing to do */
	CHECK(cfg.exec == NULL);
	f = fopen(path, "w");
	fputs("{\"process\":{\"args\":[\"/bin/x\"]}}", f);
	fclose(f);
	CHECK_EQ(oci_config_load(path, &cfg), 0);
	CHECK(cfg.exec && !strcmp(cfg.exec, "/bin/x"));
	unlink(path);
	CHECK_EQ(mkdir(path, 0700), 0); /* unreadable as a file */
	said[0] = '\0';
	CHECK_EQ(oci_config_load(path, &cfg), -1);
	CHECK(strstr(said, "cannot read") != NULL);
	rmdir(path);
	rmdir(dir);
}

TEST_MAIN("oci_config", test_crun_config_alone(); test_records_win(); test_image_config();
	  test_errors(); test_file())
