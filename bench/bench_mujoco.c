/*
 * MuJoCo environments: batched stepping through the library's C ABI against
 * raw MuJoCo, in the same run.
 *
 * For each environment, N environments are stepped T times with uniformly
 * random actions in [-1, 1]:
 *
 *   library   sgx_env_step_continuous on the whole batch (auto-reset,
 *             observations, rewards, termination; the library spreads the
 *             batch over its threads, SGX_NUM_THREADS or all cores); the
 *             step keys come from one sgx_prng_split per step, included;
 *   raw       the physical limit: a C loop that sets random controls and
 *             calls mj_step frame_skip times on N mjData of the same model
 *             (our Models/<id>.xml), no observation, reward or reset, on the
 *             same number of threads (pthreads, contiguous shares), and on
 *             one thread.
 *
 * Prints environment steps per second and library / raw (same threads).
 *
 * Build and run (after `swift build -c release`):
 *
 *   cc -O2 -I include bench/bench_mujoco.c -o /tmp/bench_mujoco \
 *      -L .build/release -lsynthetic_gymnax -lmujoco -lpthread \
 *      -Wl,-rpath,$PWD/.build/release
 *   /tmp/bench_mujoco [N] [T] [ids...]     (defaults: 1024 100 all five)
 *
 * Models are read from Sources/SGXEnvironments/MuJoCo/Models
 * (SGX_MODELS overrides the directory).
 */
#include <mujoco/mujoco.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "synthetic_gymnax.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

/* xorshift64*: uniform floats in [-1, 1) for the raw loop's controls. */
static inline double uniform(uint64_t *s) {
    *s ^= *s >> 12; *s ^= *s << 25; *s ^= *s >> 27;
    return (double)((*s * 2685821657736338717ULL) >> 11) * (2.0 / 9007199254740992.0) - 1.0;
}

typedef struct {
    const mjModel *m;
    mjData **d;
    int first, count, steps, frames;
    uint64_t seed;
} raw_job;

static void *raw_run(void *arg) {
    raw_job *job = arg;
    uint64_t s = job->seed;
    for (int t = 0; t < job->steps; t++)
        for (int i = job->first; i < job->first + job->count; i++) {
            mjData *d = job->d[i];
            for (int k = 0; k < job->m->nu; k++) d->ctrl[k] = uniform(&s);
            for (int f = 0; f < job->frames; f++) mj_step(job->m, d);
        }
    return NULL;
}

/* Env steps per second of raw MuJoCo with `threads` threads. */
static double raw_rate(const mjModel *m, int n, int steps, int frames, int threads) {
    mjData **d = malloc(sizeof(mjData *) * n);
    for (int i = 0; i < n; i++) {
        d[i] = mj_makeData(m);
        for (int j = 0; j < m->nq; j++) d[i]->qpos[j] += 0.005 * (2.0 * rand() / RAND_MAX - 1);
    }
    pthread_t tid[64];
    raw_job jobs[64];
    double start = now();
    for (int c = 0; c < threads; c++) {
        jobs[c] = (raw_job){m, d, c * n / threads, (c + 1) * n / threads - c * n / threads, steps, frames,
                            0x9E3779B97F4A7C15ULL * (c + 1)};
        pthread_create(&tid[c], NULL, raw_run, &jobs[c]);
    }
    for (int c = 0; c < threads; c++) pthread_join(tid[c], NULL);
    double rate = (double)n * steps / (now() - start);
    for (int i = 0; i < n; i++) mj_deleteData(d[i]);
    free(d);
    return rate;
}

/* Env steps per second of the library's batched step. */
static double library_rate(const char *id, int n, int steps) {
    sgx_env *env;
    if (sgx_env_create(id, NULL, NULL, 0, &env) != SGX_OK) {
        fprintf(stderr, "%s\n", sgx_last_error());
        exit(1);
    }
    int os = sgx_env_obs_size(env), ss = sgx_env_state_size(env), as = sgx_env_num_actions(env);
    uint32_t root[2], key[2], *keys = malloc(8 * (size_t)n);
    float *obs = malloc(4 * (size_t)n * os), *state = malloc(4 * (size_t)n * ss), *reward = malloc(4 * (size_t)n);
    float *actions = malloc(4 * (size_t)n * as * steps);
    int32_t *time = malloc(4 * (size_t)n);
    uint8_t *done = malloc(n);
    sgx_prng_key(0, root);
    sgx_prng_split(root, n, keys);
    sgx_env_reset(env, n, keys, obs, state, time);
    sgx_prng_fold_in(root, 1, key);
    sgx_prng_uniform(key, (int64_t)n * as * steps, -1, 1, actions);
    double start = now();
    for (int t = 0; t < steps; t++) {
        sgx_prng_fold_in(root, (uint32_t)t + 2, key);
        sgx_prng_split(key, n, keys);
        if (sgx_env_step_continuous(env, n, keys, state, time, actions + (size_t)t * n * as, obs, state, time,
                                    reward, done, NULL, NULL, NULL) != SGX_OK) {
            fprintf(stderr, "%s\n", sgx_last_error());
            exit(1);
        }
    }
    double rate = (double)n * steps / (now() - start);
    sgx_env_free(env);
    free(keys); free(obs); free(state); free(reward); free(actions); free(time); free(done);
    return rate;
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 1024, steps = argc > 2 ? atoi(argv[2]) : 100;
    const char *all[] = {"hopper", "walker2d", "halfcheetah", "swimmer", "humanoidstandup"};
    const int frames[] = {4, 4, 5, 4, 5};
    const char *dir = getenv("SGX_MODELS") ? getenv("SGX_MODELS") : "Sources/SGXEnvironments/MuJoCo/Models";
    const char *threadsText = getenv("SGX_NUM_THREADS");
    int threads = threadsText ? atoi(threadsText) : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (threads < 1) threads = 1;
    if (threads > 64) threads = 64;
    printf("MuJoCo %s, %d environments x %d steps, %d threads (env steps per second)\n",
           mj_versionString(), n, steps, threads);
    printf("%-16s %12s %12s %12s %8s\n", "env", "library", "raw", "raw 1 thr", "lib/raw");
    for (int e = 0; e < 5; e++) {
        int wanted = argc <= 3;
        for (int a = 3; a < argc; a++) wanted |= strcmp(argv[a], all[e]) == 0;
        if (!wanted) continue;
        char path[4096], error[1000];
        snprintf(path, sizeof path, "%s/%s.xml", dir, all[e]);
        mjModel *m = mj_loadXML(path, NULL, error, sizeof error);
        if (!m) { fprintf(stderr, "%s: %s\n", path, error); return 1; }
        library_rate(all[e], n < 64 ? n : 64, 5);  /* warm up: model, threads */
        double lib = library_rate(all[e], n, steps);
        double raw = raw_rate(m, n, steps, frames[e], threads);
        double raw1 = raw_rate(m, n, steps, frames[e], 1);
        printf("%-16s %12.0f %12.0f %12.0f %7.2fx\n", all[e], lib, raw, raw1, lib / raw);
        mj_deleteModel(m);
    }
    return 0;
}
