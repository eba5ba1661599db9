/*
 * triad: sustainable memory bandwidth, STREAM-like (a[i] = b[i] + s * c[i]), written for
 * llamasweep. llama2.c reads every weight once per token, so bandwidth / checkpoint bytes
 * bounds its tok/s. OpenMP threads (OMP_NUM_THREADS), first-touch initialisation by the
 * threads that later stream the data, best of several trials.
 *
 *   triad WORKING_SET_BYTES TRIALS LABEL
 *
 * Prints one JSON object: label, working_set_bytes, threads, trials, best_gb_s, mean_gb_s.
 * Bytes counted per element: 3 x 8 (two reads, one write), as STREAM does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s WORKING_SET_BYTES TRIALS LABEL\n", argv[0]);
        return 2;
    }
    long long working_set = atoll(argv[1]);
    int trials = atoi(argv[2]);
    const char *label = argv[3];
    long n = (long)(working_set / (3 * sizeof(double)));
    if (n < 1 || trials < 1) {
        fprintf(stderr, "triad: need a working set of at least 24 bytes and one trial\n");
        return 2;
    }
    double *a = malloc(n * sizeof(double));
    double *b = malloc(n * sizeof(double));
    double *c = malloc(n * sizeof(double));
    if (!a || !b || !c) {
        fprintf(stderr, "triad: cannot allocate %lld bytes\n", working_set);
        return 1;
    }
    int threads = 1;
#pragma omp parallel for schedule(static)
    for (long i = 0; i < n; i++) {
        a[i] = 0.0;
        b[i] = 1.0;
        c[i] = 2.0;
    }
#ifdef _OPENMP
    threads = omp_get_max_threads();
#endif
    const double scalar = 3.0;
    double best = 0.0, total = 0.0;
    for (int trial = 0; trial < trials; trial++) {
        double start = now();
#pragma omp parallel for schedule(static)
        for (long i = 0; i < n; i++) a[i] = b[i] + scalar * c[i];
        double gb_s = 3.0 * sizeof(double) * n / (now() - start) / 1e9;
        total += gb_s;
        if (gb_s > best) best = gb_s;
    }
    /* Reading a result keeps the compiler from dropping the loops. */
    if (a[n / 2] != 7.0) {
        fprintf(stderr, "triad: wrong result %f\n", a[n / 2]);
        return 1;
    }
    printf("{\"label\": \"%s\", \"working_set_bytes\": %lld, \"threads\": %d, \"trials\": %d, "
           "\"best_gb_s\": %.3f, \"mean_gb_s\": %.3f}\n",
           label, (long long)(3 * sizeof(double) * n), threads, trials, best, total / trials);
    free(a);
    free(b);
    free(c);
    return 0;
}
