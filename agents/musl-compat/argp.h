/*
 * The part of the argp interface that elfutils' lib/ sources name, for C libraries without
 * argp (musl). libbpf-sys builds elfutils' lib/ only because libelf's build wants it there;
 * none of those argp users end up in our binary, so declarations are all that is needed.
 * Used by ci/build for the *-linux-musl targets.
 */
#ifndef EBPF_RUST_MUSL_COMPAT_ARGP_H
#define EBPF_RUST_MUSL_COMPAT_ARGP_H

#include <errno.h>
#include <stdio.h>

#ifndef __error_t_defined
typedef int error_t;
#define __error_t_defined 1
#endif

#define OPTION_ARG_OPTIONAL 0x1
#define OPTION_HIDDEN 0x2
#define ARGP_ERR_UNKNOWN E2BIG
#define ARGP_KEY_ARG 0
#define ARGP_KEY_END 0x1000001
#define ARGP_KEY_INIT 0x1000003
#define ARGP_HELP_SEE 0x04

struct argp_state;
struct argp_child;

struct argp_option {
	const char *name;
	int key;
	const char *arg;
	int flags;
	const char *doc;
	int group;
};

typedef error_t (*argp_parser_t)(int key, char *arg, struct argp_state *state);

struct argp {
	const struct argp_option *options;
	argp_parser_t parser;
	const char *args_doc;
	const char *doc;
	const struct argp_child *children;
	char *(*help_filter)(int key, const char *text, void *input);
	const char *argp_domain;
};

struct argp_state {
	const struct argp *root_argp;
	int argc;
	char **argv;
	int next;
	unsigned flags;
	unsigned arg_num;
	int quoted;
	void *input;
	void **child_inputs;
	void *hook;
	char *name;
	FILE *err_stream;
	FILE *out_stream;
	void *pstate;
};

void argp_help(const struct argp *argp, FILE *stream, unsigned flags, char *name);
error_t argp_parse(const struct argp *argp, int argc, char **argv, unsigned flags,
		   int *arg_index, void *input);

#endif
