// LD_PRELOAD shim that counts fflush(stdout) calls. run.c's generate() makes
// exactly one per generated token, so the count is the number of tokens
// generated before the step limit or a sampled BOS. The count is written to
// the file named by $FFLUSH_COUNT_FILE at exit.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

static unsigned long stdout_flushes;

int fflush(FILE *stream) {
    static int (*real_fflush)(FILE *);
    if (!real_fflush) {
        real_fflush = (int (*)(FILE *))dlsym(RTLD_NEXT, "fflush");
    }
    if (stream == stdout) {
        stdout_flushes++;
    }
    return real_fflush(stream);
}

__attribute__((destructor)) static void write_flush_count(void) {
    const char *path = getenv("FFLUSH_COUNT_FILE");
    if (!path) {
        return;
    }
    FILE *out = fopen(path, "w");
    if (!out) {
        return;
    }
    fprintf(out, "%lu\n", stdout_flushes);
    fclose(out);
}
