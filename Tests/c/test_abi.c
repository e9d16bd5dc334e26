/*
 * C test of the public ABI: compiled with only include/ on the include path
 * and linked against libsynthetic_gymnax, as a C user would.
 *
 *   cc -std=c11 -Wall -Wextra -Werror -I include Tests/c/test_abi.c \
 *      -L .build/release -lsynthetic_gymnax -Wl,-rpath,.build/release -lpthread -lm
 *
 * Prints one line per failed check and a final "N passed, N failed" line;
 * exits non-zero on any failure.
 */
#include "synthetic_gymnax.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int passed = 0, failed = 0;

#define CHECK(cond, ...)                                                   \
    do {                                                                   \
        if (cond) {                                                        \
            passed++;                                                      \
        } else {                                                           \
            failed++;                                                      \
            printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);         \
            printf(__VA_ARGS__);                                           \
            printf("\n");                                                  \
        }                                                                  \
    } while (0)

#define CHECK_STATUS(call, expected)                                              \
    do {                                                                          \
        int32_t s_ = (call);                                                      \
        CHECK(s_ == (expected), "%s returned %s (%s), expected %s", #call,        \
              sgx_status_name(s_), sgx_last_error(), sgx_status_name(expected)); \
    } while (0)

/* The error message must mention `needle`. */
#define CHECK_ERROR_MENTIONS(needle) \
    CHECK(strstr(sgx_last_error(), (needle)) != NULL, "last error \"%s\" lacks \"%s\"", sgx_last_error(), (needle))

static void test_version(void) {
    CHECK(sgx_abi_version() == SGX_ABI_VERSION, "abi %d", sgx_abi_version());
    CHECK(sgx_version() != NULL && strlen(sgx_version()) > 0, "version");
    CHECK(strcmp(sgx_status_name(SGX_ERR_UNKNOWN_ID), "SGX_ERR_UNKNOWN_ID") == 0, "status name");
    CHECK(strcmp(sgx_status_name(12345), "SGX_ERR_UNKNOWN_STATUS") == 0, "unknown status name");
}

/* sgx_abi_constant: every value equals what this compiler makes of the header. */
static void test_abi_constant(void) {
    static const struct { const char *name; int64_t value; } expected[] = {
#define C(x) {#x, (int64_t)(x)}
        C(SGX_OK), C(SGX_ERR_NULL_POINTER), C(SGX_ERR_INVALID_ARGUMENT), C(SGX_ERR_UNKNOWN_ID),
        C(SGX_ERR_UNKNOWN_PARAMETER), C(SGX_ERR_INVALID_ACTION), C(SGX_ERR_WRONG_ACTION_TYPE),
        C(SGX_ERR_IO), C(SGX_ERR_FORMAT), C(SGX_STOPPED), C(SGX_ERR_INTERNAL),
        C(SGX_ABI_VERSION), C(SGX_MAX_VEC_ENVS), C(SGX_MAX_NUM_ENVS), C(SGX_MAX_BATCH),
        C(SGX_MAX_BUFFER_FLOATS), C(SGX_MAX_LAYER_WIDTH), C(SGX_MAX_LAYERS), C(SGX_MAX_NETWORK_PARAMETERS),
        C(SGX_MAX_FILE_BYTES), C(SGX_MAX_HEADER_BYTES), C(SGX_MAX_CONFIG_BYTES), C(SGX_MAX_CONFIG_DEPTH),
        C(SGX_MAX_CONFIG_NODES), C(SGX_MAX_POPULATION), C(SGX_MAX_RUNS), C(SGX_MAX_OUTCOME_BYTES),
        C(SGX_SPACE_DISCRETE), C(SGX_SPACE_BOX), C(SGX_DTYPE_FLOAT32), C(SGX_DTYPE_INT32), C(SGX_DTYPE_BOOL),
        C(SGX_PHASE_POPULATION), C(SGX_PHASE_MEAN), C(SGX_PHASE_GENERATION_DONE), C(SGX_PHASE_EVALUATION),
        C(sizeof(sgx_meta_progress)), C(offsetof(sgx_meta_progress, generation)),
        C(offsetof(sgx_meta_progress, generations)), C(offsetof(sgx_meta_progress, phase)),
        C(offsetof(sgx_meta_progress, runs_done)), C(offsetof(sgx_meta_progress, runs_total)),
        C(offsetof(sgx_meta_progress, best_fitness)), C(offsetof(sgx_meta_progress, population_fitness)),
        C(offsetof(sgx_meta_progress, population_fitness_std)), C(offsetof(sgx_meta_progress, mean_fitness)),
        C(offsetof(sgx_meta_progress, seconds)),
        C(sizeof(sgx_train_stats)), C(offsetof(sgx_train_stats, env_steps)), C(offsetof(sgx_train_stats, updates)),
        C(offsetof(sgx_train_stats, flops)), C(offsetof(sgx_train_stats, seconds)),
#undef C
    };
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++) {
        int64_t value = -12345;
        CHECK_STATUS(sgx_abi_constant(expected[i].name, &value), SGX_OK);
        CHECK(value == expected[i].value, "%s = %lld, the header says %lld", expected[i].name,
              (long long)value, (long long)expected[i].value);
    }
    int64_t value = 7;
    CHECK_STATUS(sgx_abi_constant("SGX_NO_SUCH_THING", &value), SGX_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("SGX_NO_SUCH_THING");
    CHECK(value == 7, "nothing written on failure");
    CHECK_STATUS(sgx_abi_constant("offsetof(sgx_meta_progress,seconds)", &value), SGX_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(sgx_abi_constant(NULL, &value), SGX_ERR_NULL_POINTER);
    CHECK_STATUS(sgx_abi_constant("SGX_OK", NULL), SGX_ERR_NULL_POINTER);
}

static void test_prng(void) {
    uint32_t key[2], keys[6], sub[2];
    CHECK_STATUS(sgx_prng_key(0, key), SGX_OK);
    CHECK(key[0] == 0 && key[1] == 0, "PRNGKey(0)");
    /* jax.random.split(PRNGKey(0), 3) */
    CHECK_STATUS(sgx_prng_split(key, 3, keys), SGX_OK);
    CHECK(keys[0] == 1797259609u && keys[1] == 2579123966u, "split[0] = %u %u", keys[0], keys[1]);
    CHECK(keys[2] == 928981903u && keys[3] == 3453687069u, "split[1]");
    CHECK(keys[4] == 4146024105u && keys[5] == 2718843009u, "split[2]");
    /* jax.random.fold_in(PRNGKey(0), 5) */
    CHECK_STATUS(sgx_prng_fold_in(key, 5, sub), SGX_OK);
    CHECK(sub[0] == 1524306142u && sub[1] == 1887795613u, "fold_in = %u %u", sub[0], sub[1]);
    float u[4];
    CHECK_STATUS(sgx_prng_uniform(key, 4, -0.05f, 0.05f, u), SGX_OK);
    /* = CartPole reset from PRNGKey(0) in gymnax: jax.random.uniform(PRNGKey(0), (4,), minval=-0.05, maxval=0.05) */
    CHECK(u[0] == 0.04476670175790787f && u[1] == 0.04785798862576485f && u[2] == -0.016770852729678154f &&
              u[3] == -0.003133154008537531f, "uniform %.9g %.9g", u[0], u[3]);
    int32_t r[8];
    CHECK_STATUS(sgx_prng_randint(key, 8, 0, 3, r), SGX_OK);
    for (int i = 0; i < 8; i++) CHECK(r[i] >= 0 && r[i] < 3, "randint %d", r[i]);
    float z[16];
    CHECK_STATUS(sgx_prng_normal(key, 16, z), SGX_OK);
    for (int i = 0; i < 16; i++) CHECK(isfinite(z[i]) && fabsf(z[i]) < 6, "normal %g", z[i]);
    /* errors */
    CHECK_STATUS(sgx_prng_split(NULL, 2, keys), SGX_ERR_NULL_POINTER);
    CHECK_ERROR_MENTIONS("key");
    CHECK_STATUS(sgx_prng_split(key, 0, keys), SGX_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(sgx_prng_uniform(key, -1, 0, 1, u), SGX_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(sgx_prng_uniform(key, 4, NAN, 1, u), SGX_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(sgx_prng_bits(key, 3, NULL), SGX_ERR_NULL_POINTER);
    CHECK_STATUS(sgx_prng_bits(key, 0, NULL), SGX_OK);
}

static void test_registry(void) {
    int32_t count = sgx_env_registered_count();
    CHECK(count >= 5, "count %d", count);
    const char *expected[] = {"CartPole-v1", "Acrobot-v1", "MountainCar-v0",
                              "MountainCarContinuous-v0", "Pendulum-v1"};
    for (int e = 0; e < 5; e++) {
        int found = 0;
        for (int i = 0; i < count; i++) found |= strcmp(sgx_env_registered_id(i), expected[e]) == 0;
        CHECK(found, "%s registered", expected[e]);
    }
    CHECK(sgx_env_registered_id(-1) == NULL && sgx_env_registered_id(count) == NULL, "out of range");

    /* Every registered real environment creates, resets and steps with random
       actions; synthetic ids need a checkpoint and say so. */
    for (int i = 0; i < count; i++) {
        sgx_env *env = NULL;
        if (strncmp(sgx_env_registered_id(i), "Synthetic-", 10) == 0) {
            CHECK_STATUS(sgx_env_create(sgx_env_registered_id(i), NULL, NULL, 0, &env), SGX_ERR_IO);
            CHECK_ERROR_MENTIONS("checkpoint");
            continue;
        }
        CHECK_STATUS(sgx_env_create(sgx_env_registered_id(i), NULL, NULL, 0, &env), SGX_OK);
        if (!env) continue;
        enum { N = 16 };
        int32_t obs_size = sgx_env_obs_size(env), state_size = sgx_env_state_size(env);
        int32_t na = sgx_env_num_actions(env);
        float *obs = calloc(N * obs_size, sizeof(float)), *state = calloc(N * state_size, sizeof(float));
        float reward[N], actions_f[N * 32]; /* up to 32 actions (humanoidstandup: 17) */
        int32_t time[N], actions_i[N];
        uint8_t done[N], trunc[N];
        uint32_t keys[2 * N], key[2];
        sgx_prng_key(i, key);
        sgx_prng_split(key, N, keys);
        CHECK_STATUS(sgx_env_reset(env, N, keys, obs, state, time), SGX_OK);
        for (int t = 0; t < 300; t++) {
            sgx_prng_fold_in(key, t, key);
            sgx_prng_split(key, N, keys);
            if (sgx_env_action_kind(env) == SGX_SPACE_DISCRETE) {
                sgx_prng_randint(key, N, 0, na, actions_i);
                CHECK_STATUS(sgx_env_step_discrete(env, N, keys, state, time, actions_i, obs, state, time,
                                                   reward, done, NULL, trunc, NULL), SGX_OK);
            } else {
                sgx_prng_uniform(key, N * na, -1, 1, actions_f);
                CHECK_STATUS(sgx_env_step_continuous(env, N, keys, state, time, actions_f, obs, state,
                                                     time, reward, done, NULL, trunc, NULL), SGX_OK);
            }
        }
        for (int k = 0; k < N * obs_size; k++) CHECK(isfinite(obs[k]), "obs finite");
        free(obs);
        free(state);
        sgx_env_free(env);
    }
}

static void test_cartpole(void) {
    sgx_env *env = NULL;
    const char *names[] = {"max_steps_in_episode", "gravity"};
    const double values[] = {3, 12.0};
    CHECK_STATUS(sgx_env_create("CartPole-v1", names, values, 2, &env), SGX_OK);
    CHECK(strcmp(sgx_env_name(env), "CartPole-v1") == 0, "name");
    CHECK(sgx_env_obs_size(env) == 4 && sgx_env_state_size(env) == 4, "sizes");
    CHECK(sgx_env_action_kind(env) == SGX_SPACE_DISCRETE && sgx_env_num_actions(env) == 2, "space");
    float low[4], high[4];
    CHECK_STATUS(sgx_env_obs_bounds(env, low, high, 4), SGX_OK);
    CHECK(high[0] == 4.8f && low[0] == -4.8f, "x bound %g", high[0]);
    CHECK_STATUS(sgx_env_obs_bounds(env, low, high, 3), SGX_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(sgx_env_action_bounds(env, low, high, 1), SGX_ERR_WRONG_ACTION_TYPE);

    /* parameters and state layout */
    int32_t np = sgx_env_param_count(env);
    CHECK(np == 11, "param count %d", np);
    int seen_gravity = 0;
    for (int i = 0; i < np; i++) {
        const char *name;
        double value;
        int32_t dtype;
        CHECK_STATUS(sgx_env_param(env, i, &name, &value, &dtype), SGX_OK);
        if (strcmp(name, "gravity") == 0) seen_gravity = value == 12.0 && dtype == SGX_DTYPE_FLOAT32;
        if (strcmp(name, "max_steps_in_episode") == 0) CHECK(value == 3 && dtype == SGX_DTYPE_INT32, "max steps");
    }
    CHECK(seen_gravity, "gravity override visible");
    CHECK_STATUS(sgx_env_param(env, np, NULL, NULL, NULL), SGX_ERR_INVALID_ARGUMENT);
    const char *field;
    int32_t offset, length, dtype;
    CHECK_STATUS(sgx_env_state_field(env, 3, &field, &offset, &length, &dtype), SGX_OK);
    CHECK(strcmp(field, "theta_dot") == 0 && offset == 3 && length == 1 && dtype == SGX_DTYPE_FLOAT32, "field");

    /* reset from PRNGKey(0) equals gymnax; the 3-step limit truncates. */
    uint32_t key[2] = {0, 0};
    float obs[4], state[4], reward;
    int32_t time, action = 1;
    uint8_t done, trunc;
    CHECK_STATUS(sgx_env_reset(env, 1, key, obs, state, &time), SGX_OK);
    CHECK(obs[0] == 0.04476670175790787f && obs[1] == 0.04785798862576485f &&
              obs[2] == -0.016770852729678154f && obs[3] == -0.003133154008537531f, "reset obs");
    for (int t = 1; t <= 3; t++) {
        key[1] = t;
        CHECK_STATUS(sgx_env_step_discrete(env, 1, key, state, &time, &action, obs, state, &time,
                                           &reward, &done, NULL, &trunc, NULL), SGX_OK);
        CHECK(reward == 1.0f, "reward");
        CHECK(done == (t == 3) && trunc == (t == 3), "t=%d done=%d trunc=%d", t, done, trunc);
    }
    CHECK(time == 0, "auto-reset time %d", time);
    /* terminal vs time limit, and the observation before the reset */
    {
        float s2[4] = {2.39f, 5.0f, 0.0f, 0.0f}, o2[4], f2[4], r2;
        int32_t t2 = 0;
        uint8_t d2, term2, trunc2;
        CHECK_STATUS(sgx_env_step_discrete(env, 1, key, s2, &t2, &action, o2, s2, &t2, &r2, &d2, &term2,
                                           &trunc2, f2), SGX_OK);
        CHECK(d2 == 1 && term2 == 1 && trunc2 == 0, "cart off the track: done %d term %d trunc %d", d2, term2, trunc2);
        CHECK(f2[0] > 2.4f && o2[0] != f2[0] && t2 == 0, "final obs %g, reset obs %g", f2[0], o2[0]);
        float s3[4] = {0, 0, 0, 0}, o3[4], f3[4];
        t2 = 2;
        CHECK_STATUS(sgx_env_step_discrete(env, 1, key, s3, &t2, &action, o3, s3, &t2, &r2, &d2, &term2,
                                           &trunc2, f3), SGX_OK);
        CHECK(d2 == 1 && term2 == 0 && trunc2 == 1, "time limit: done %d term %d trunc %d", d2, term2, trunc2);
        CHECK(f3[1] > 0.19f && f3[1] < 0.2f, "final x_dot after one push %g", f3[1]);
    }
    /* the optional outputs may be NULL */
    CHECK_STATUS(sgx_env_step_discrete(env, 1, key, state, &time, &action, obs, state, &time,
                                       &reward, &done, NULL, NULL, NULL), SGX_OK);

    /* bad input */
    int32_t bad = 2;
    float before = state[0];
    CHECK_STATUS(sgx_env_step_discrete(env, 1, key, state, &time, &bad, obs, state, &time,
                                       &reward, &done, NULL, NULL, NULL), SGX_ERR_INVALID_ACTION);
    CHECK_ERROR_MENTIONS("out of range");
    CHECK(state[0] == before, "nothing written on error");
    bad = -1;
    CHECK_STATUS(sgx_env_step_discrete(env, 1, key, state, &time, &bad, obs, state, &time,
                                       &reward, &done, NULL, NULL, NULL), SGX_ERR_INVALID_ACTION);
    float fa = 0.5f;
    CHECK_STATUS(sgx_env_step_continuous(env, 1, key, state, &time, &fa, obs, state, &time,
                                         &reward, &done, NULL, NULL, NULL), SGX_ERR_WRONG_ACTION_TYPE);
    CHECK_STATUS(sgx_env_step_discrete(env, 0, key, state, &time, &action, obs, state, &time,
                                       &reward, &done, NULL, NULL, NULL), SGX_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(sgx_env_step_discrete(env, -3, key, state, &time, &action, obs, state, &time,
                                       &reward, &done, NULL, NULL, NULL), SGX_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(sgx_env_step_discrete(env, 1, NULL, state, &time, &action, obs, state, &time,
                                       &reward, &done, NULL, NULL, NULL), SGX_ERR_NULL_POINTER);
    CHECK_STATUS(sgx_env_step_discrete(env, 1, key, state, &time, &action, obs, state, &time,
                                       NULL, &done, NULL, NULL, NULL), SGX_ERR_NULL_POINTER);
    CHECK_ERROR_MENTIONS("out_reward");
    CHECK_STATUS(sgx_env_step_discrete(NULL, 1, key, state, &time, &action, obs, state, &time,
                                       &reward, &done, NULL, NULL, NULL), SGX_ERR_NULL_POINTER);
    CHECK_STATUS(sgx_env_reset(env, 0, key, obs, state, &time), SGX_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(sgx_env_reset(env, 1, key, NULL, state, &time), SGX_ERR_NULL_POINTER);
    sgx_env_free(env);
}

static void test_continuous_errors(void) {
    sgx_env *env = NULL;
    CHECK_STATUS(sgx_env_create("Pendulum-v1", NULL, NULL, 0, &env), SGX_OK);
    float low[1], high[1];
    CHECK_STATUS(sgx_env_action_bounds(env, low, high, 1), SGX_OK);
    CHECK(low[0] == -2.0f && high[0] == 2.0f, "torque bounds");
    uint32_t keys[4] = {0, 1, 0, 2};
    float obs[6], state[6], reward[2], actions[2] = {0.5f, NAN};
    int32_t time[2], da = 0;
    uint8_t done[2];
    CHECK_STATUS(sgx_env_reset(env, 2, keys, obs, state, time), SGX_OK);
    CHECK_STATUS(sgx_env_step_continuous(env, 2, keys, state, time, actions, obs, state, time, reward,
                                         done, NULL, NULL, NULL), SGX_ERR_INVALID_ACTION);
    CHECK_ERROR_MENTIONS("actions[1]");
    actions[1] = INFINITY;
    CHECK_STATUS(sgx_env_step_continuous(env, 2, keys, state, time, actions, obs, state, time, reward,
                                         done, NULL, NULL, NULL), SGX_ERR_INVALID_ACTION);
    actions[1] = 100.0f; /* out of bounds: clipped, as gymnax does */
    CHECK_STATUS(sgx_env_step_continuous(env, 2, keys, state, time, actions, obs, state, time, reward,
                                         done, NULL, NULL, NULL), SGX_OK);
    CHECK(state[5] == 2.0f, "last_u clipped to max_torque: %g", state[5]);
    CHECK_STATUS(sgx_env_step_discrete(env, 1, keys, state, time, &da, obs, state, time, reward, done,
                                       NULL, NULL, NULL), SGX_ERR_WRONG_ACTION_TYPE);
    sgx_env_free(env);
}

static void test_create_errors(void) {
    sgx_env *env = (sgx_env *)0x1;
    CHECK_STATUS(sgx_env_create("CartPole-v9", NULL, NULL, 0, &env), SGX_ERR_UNKNOWN_ID);
    CHECK(env == NULL, "out_env cleared on failure");
    CHECK_ERROR_MENTIONS("CartPole-v9");
    CHECK_STATUS(sgx_env_create(NULL, NULL, NULL, 0, &env), SGX_ERR_NULL_POINTER);
    CHECK_STATUS(sgx_env_create("CartPole-v1", NULL, NULL, 0, NULL), SGX_ERR_NULL_POINTER);
    const char *names[] = {"gravitee"};
    double values[] = {1.0};
    CHECK_STATUS(sgx_env_create("CartPole-v1", names, values, 1, &env), SGX_ERR_UNKNOWN_PARAMETER);
    CHECK_ERROR_MENTIONS("gravitee");
    CHECK_STATUS(sgx_env_create("CartPole-v1", NULL, NULL, 1, &env), SGX_ERR_NULL_POINTER);
    CHECK_STATUS(sgx_env_create("CartPole-v1", names, values, -1, &env), SGX_ERR_INVALID_ARGUMENT);
    const char *ms[] = {"max_steps_in_episode"};
    double frac[] = {2.5}, zero[] = {0}, nan_[] = {NAN};
    CHECK_STATUS(sgx_env_create("CartPole-v1", ms, frac, 1, &env), SGX_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(sgx_env_create("CartPole-v1", ms, zero, 1, &env), SGX_ERR_INVALID_ARGUMENT);
    const char *g[] = {"gravity"};
    CHECK_STATUS(sgx_env_create("CartPole-v1", g, nan_, 1, &env), SGX_ERR_INVALID_ARGUMENT);
    CHECK(sgx_env_obs_size(NULL) == -1 && sgx_env_name(NULL) == NULL, "NULL handle queries");
    sgx_env_free(NULL);
}

/* Distinct handles on distinct threads; results equal the single-threaded run. */
typedef struct {
    const char *id;
    float checksum;
} thread_job;

static void *run_job(void *arg) {
    thread_job *job = arg;
    sgx_env *env = NULL;
    if (sgx_env_create(job->id, NULL, NULL, 0, &env) != SGX_OK) return NULL;
    enum { N = 64 };
    float obs[N * 6], state[N * 4], reward[N];
    int32_t time[N], actions[N];
    uint8_t done[N];
    uint32_t key[2] = {0, 7}, keys[2 * N];
    sgx_prng_split(key, N, keys);
    sgx_env_reset(env, N, keys, obs, state, time);
    job->checksum = 0;
    for (int t = 0; t < 200; t++) {
        sgx_prng_fold_in(key, t, key);
        sgx_prng_split(key, N, keys);
        sgx_prng_randint(key, N, 0, 2, actions);
        sgx_env_step_discrete(env, N, keys, state, time, actions, obs, state, time, reward, done, NULL, NULL, NULL);
        for (int i = 0; i < N; i++) job->checksum += reward[i] + obs[4 * i];
    }
    sgx_env_free(env);
    return NULL;
}

static void test_threads(void) {
    thread_job reference = {"CartPole-v1", 0};
    run_job(&reference);
    pthread_t threads[4];
    thread_job jobs[4];
    for (int i = 0; i < 4; i++) {
        jobs[i] = (thread_job){"CartPole-v1", -1};
        pthread_create(&threads[i], NULL, run_job, &jobs[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(threads[i], NULL);
        CHECK(jobs[i].checksum == reference.checksum, "thread %d: %g vs %g", i, jobs[i].checksum,
              reference.checksum);
    }
}

/* The vector environment equals stepping by hand with its documented keys. */
static void test_vec_env(void) {
    enum { N = 8 };
    sgx_env *env = NULL;
    sgx_vec_env *vec = NULL;
    CHECK_STATUS(sgx_env_create("CartPole-v1", NULL, NULL, 0, &env), SGX_OK);
    CHECK_STATUS(sgx_vec_env_create(env, N, 42, &vec), SGX_OK);
    CHECK_STATUS(sgx_vec_env_create(env, 0, 42, &vec), SGX_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(sgx_vec_env_create(NULL, N, 42, &vec), SGX_ERR_NULL_POINTER);
    CHECK_STATUS(sgx_vec_env_create(env, N, 42, &vec), SGX_OK);
    float vobs[N * 4], vr[N], vfinal[N * 4], obs[N * 4], state[N * 4], r[N];
    uint8_t vterm[N], vtrunc[N], done[N], term[N], trunc[N];
    int32_t time[N], actions[N];
    uint32_t root[2], keys[2 * N], k[2];
    CHECK_STATUS(sgx_vec_env_reset(vec, 42, vobs), SGX_OK);
    sgx_prng_key(42, root);
    sgx_prng_split(root, N, keys);
    sgx_env_reset(env, N, keys, obs, state, time);
    CHECK(memcmp(vobs, obs, sizeof obs) == 0, "vec reset");
    for (int t = 1; t <= 40; t++) {
        for (int i = 0; i < N; i++) actions[i] = (t * 7 + i) % 2;
        CHECK_STATUS(sgx_vec_env_step_discrete(vec, actions, vobs, vr, vterm, vtrunc, vfinal), SGX_OK);
        sgx_prng_fold_in(root, (uint32_t)t, k);
        sgx_prng_split(k, N, keys);
        sgx_env_step_discrete(env, N, keys, state, time, actions, obs, state, time, r, done, term, trunc, NULL);
        CHECK(memcmp(vobs, obs, sizeof obs) == 0 && memcmp(vr, r, sizeof r) == 0 &&
                  memcmp(vterm, term, N) == 0 && memcmp(vtrunc, trunc, N) == 0, "vec step %d", t);
    }
    int32_t bad[N] = {0, 0, 0, 2, 0, 0, 0, 0};
    CHECK_STATUS(sgx_vec_env_step_discrete(vec, bad, vobs, vr, vterm, vtrunc, NULL), SGX_ERR_INVALID_ACTION);
    CHECK_ERROR_MENTIONS("actions[3] = 2");
    float fa[N] = {0};
    CHECK_STATUS(sgx_vec_env_step_continuous(vec, fa, vobs, vr, vterm, vtrunc, NULL), SGX_ERR_WRONG_ACTION_TYPE);
    CHECK_STATUS(sgx_vec_env_step_discrete(vec, actions, NULL, vr, vterm, vtrunc, NULL), SGX_ERR_NULL_POINTER);
    CHECK_STATUS(sgx_vec_env_step_discrete(NULL, actions, vobs, vr, vterm, vtrunc, NULL), SGX_ERR_NULL_POINTER);
    /* the invalid calls changed nothing: the next step still matches */
    CHECK_STATUS(sgx_vec_env_step_discrete(vec, actions, vobs, vr, vterm, vtrunc, NULL), SGX_OK);
    sgx_prng_fold_in(root, 41, k);
    sgx_prng_split(k, N, keys);
    sgx_env_step_discrete(env, N, keys, state, time, actions, obs, state, time, r, done, NULL, NULL, NULL);
    CHECK(memcmp(vobs, obs, sizeof obs) == 0, "vec step after errors");
    sgx_env_free(env); /* the vector environment keeps its own reference */
    CHECK_STATUS(sgx_vec_env_step_discrete(vec, actions, vobs, vr, vterm, vtrunc, NULL), SGX_OK);
    sgx_vec_env_free(vec);
    sgx_vec_env_free(NULL);
}

/* Agents: train a short PPO and DQN run, act, evaluate, save and load, and
 * every bad input the header documents. */
static void test_agents(void) {
    sgx_env *cartpole = NULL, *pendulum = NULL;
    CHECK_STATUS(sgx_env_create("CartPole-v1", NULL, NULL, 0, &cartpole), SGX_OK);
    CHECK_STATUS(sgx_env_create("Pendulum-v1", NULL, NULL, 0, &pendulum), SGX_OK);
    const char *names[] = {"num_envs", "num_steps", "num_minibatches", "total_timesteps", "agent_kwargs.activation"};
    const char *values[] = {"4", "16", "4", "256", "tanh"};
    sgx_policy *ppo = NULL, *again = NULL;
    sgx_train_stats stats;
    CHECK_STATUS(sgx_train("ppo", cartpole, names, values, 5, 7, &ppo, &stats), SGX_OK);
    CHECK(ppo != NULL && stats.env_steps == 256 && stats.updates == 4 * 8 * 4 && stats.flops > 0 && stats.seconds > 0,
          "stats %lld steps %lld updates", (long long)stats.env_steps, (long long)stats.updates);
    CHECK(strcmp(sgx_policy_algorithm(ppo), "ppo") == 0 && strcmp(sgx_policy_env_id(ppo), "CartPole-v1") == 0, "ids");
    CHECK(sgx_policy_obs_size(ppo) == 4 && sgx_policy_action_kind(ppo) == SGX_SPACE_DISCRETE &&
          sgx_policy_num_actions(ppo) == 2, "policy spaces");
    CHECK_STATUS(sgx_train("PPO", cartpole, names, values, 5, 7, &again, NULL), SGX_OK);

    float obs[3 * 4] = {0.1f, 0, 0.2f, 0, -0.1f, 0, -0.2f, 0, 0, 0, 0, 0};
    int32_t a1[3], a2[3];
    uint32_t key[2] = {0, 1};
    CHECK_STATUS(sgx_policy_act_discrete(ppo, 3, obs, 1, NULL, a1), SGX_OK);
    CHECK_STATUS(sgx_policy_act_discrete(again, 3, obs, 1, NULL, a2), SGX_OK);
    CHECK(memcmp(a1, a2, sizeof a1) == 0, "same seed, same actions");
    CHECK_STATUS(sgx_policy_act_discrete(ppo, 3, obs, 0, key, a1), SGX_OK);
    for (int i = 0; i < 3; i++) CHECK(a1[i] == 0 || a1[i] == 1, "action %d", a1[i]);

    float returns[5], returns2[5];
    int32_t lengths[5];
    CHECK_STATUS(sgx_policy_evaluate(ppo, cartpole, 5, 3, 1, 0, returns, lengths), SGX_OK);
    for (int i = 0; i < 5; i++) CHECK(returns[i] == (float)lengths[i] && lengths[i] >= 1 && lengths[i] <= 500,
                                      "CartPole return %g = length %d", returns[i], lengths[i]);
    CHECK_STATUS(sgx_policy_evaluate(ppo, cartpole, 5, 3, 1, 4, returns2, NULL), SGX_OK);
    for (int i = 0; i < 5; i++) CHECK(returns2[i] <= 4, "max_steps 4: %g", returns2[i]);

    const char *path = "/tmp/sgx_test_abi_policy.safetensors";
    sgx_policy *loaded = NULL;
    CHECK_STATUS(sgx_policy_save(ppo, path), SGX_OK);
    CHECK_STATUS(sgx_policy_load(path, &loaded), SGX_OK);
    CHECK_STATUS(sgx_policy_evaluate(loaded, cartpole, 5, 3, 1, 0, returns2, NULL), SGX_OK);
    CHECK(memcmp(returns, returns2, sizeof returns) == 0, "loaded policy evaluates the same");

    /* continuous: DDPG on Pendulum; its actions stay in the box */
    const char *dn[] = {"total_timesteps", "fill_buffer", "batch_size"};
    const char *dv[] = {"64", "16", "8"};
    sgx_policy *ddpg = NULL;
    CHECK_STATUS(sgx_train("ddpg", pendulum, dn, dv, 3, 0, &ddpg, NULL), SGX_OK);
    float pobs[2 * 3] = {1, 0, 0, 0, 1, 5}, pact[2];
    CHECK_STATUS(sgx_policy_act_continuous(ddpg, 2, pobs, 1, NULL, pact), SGX_OK);
    CHECK(pact[0] >= -2 && pact[0] <= 2 && pact[1] >= -2 && pact[1] <= 2, "actions %g %g", pact[0], pact[1]);

    /* errors */
    sgx_policy *none = (sgx_policy *)1;
    CHECK_STATUS(sgx_train("a2c", cartpole, NULL, NULL, 0, 0, &none, NULL), SGX_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("unknown algorithm 'a2c'");
    CHECK(none == NULL, "out_policy cleared on failure");
    const char *bad_name[] = {"learning_rat"}, *bad_value[] = {"-1"};
    CHECK_STATUS(sgx_train("dqn", cartpole, bad_name, bad_value, 1, 0, &none, NULL), SGX_ERR_UNKNOWN_PARAMETER);
    CHECK_ERROR_MENTIONS("learning_rate");
    const char *lr[] = {"learning_rate"};
    CHECK_STATUS(sgx_train("dqn", cartpole, lr, bad_value, 1, 0, &none, NULL), SGX_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("learning_rate");
    const char *twice[] = {"gamma", "gamma"}, *tv[] = {"0.9", "0.8"};
    CHECK_STATUS(sgx_train("dqn", cartpole, twice, tv, 2, 0, &none, NULL), SGX_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("twice");
    CHECK_STATUS(sgx_train("dqn", pendulum, NULL, NULL, 0, 0, &none, NULL), SGX_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("continuous");
    CHECK_STATUS(sgx_train("td3", cartpole, NULL, NULL, 0, 0, &none, NULL), SGX_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(sgx_train("ppo", NULL, NULL, NULL, 0, 0, &none, NULL), SGX_ERR_NULL_POINTER);
    CHECK_STATUS(sgx_train("ppo", cartpole, NULL, NULL, 1, 0, &none, NULL), SGX_ERR_NULL_POINTER);
    CHECK_STATUS(sgx_train("ppo", cartpole, NULL, NULL, -1, 0, &none, NULL), SGX_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(sgx_policy_evaluate(ppo, pendulum, 5, 0, 1, 0, returns, NULL), SGX_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("does not fit Pendulum-v1");
    CHECK_STATUS(sgx_policy_evaluate(ppo, cartpole, 0, 0, 1, 0, returns, NULL), SGX_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(sgx_policy_evaluate(ppo, cartpole, 5, 0, 1, -3, returns, NULL), SGX_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(sgx_policy_evaluate(ppo, cartpole, 5, 0, 1, 0, NULL, NULL), SGX_ERR_NULL_POINTER);
    CHECK_STATUS(sgx_policy_act_continuous(ppo, 3, obs, 1, NULL, pact), SGX_ERR_WRONG_ACTION_TYPE);
    CHECK_STATUS(sgx_policy_act_discrete(ppo, 0, obs, 1, NULL, a1), SGX_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(sgx_policy_act_discrete(ppo, 3, obs, 0, NULL, a1), SGX_ERR_NULL_POINTER);
    obs[5] = NAN;
    CHECK_STATUS(sgx_policy_act_discrete(ppo, 3, obs, 1, NULL, a1), SGX_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("obs[5]");
    CHECK_STATUS(sgx_policy_load("/nonexistent/policy.safetensors", &none), SGX_ERR_IO);
    FILE *f = fopen(path, "wb");
    fputs("not a safetensors file", f);
    fclose(f);
    CHECK_STATUS(sgx_policy_load(path, &none), SGX_ERR_FORMAT);
    CHECK_STATUS(sgx_policy_save(NULL, path), SGX_ERR_NULL_POINTER);
    CHECK(sgx_policy_algorithm(NULL) == NULL && sgx_policy_obs_size(NULL) == -1, "NULL policy queries");
    remove(path);

    sgx_policy_free(ppo);
    sgx_policy_free(again);
    sgx_policy_free(loaded);
    sgx_policy_free(ddpg);
    sgx_policy_free(NULL);
    sgx_env_free(cartpole);
    sgx_env_free(pendulum);
}

/* Meta-learning: a tiny CartPole config (popsize 4, 2 generations, 500
 * PPO steps) written here; run, stop from the callback, resume, the
 * transfer evaluation of the result, and every documented error. */
static const char *meta_config_text =
    "env_name: CartPole-v1\n"
    "seed_id: 1\n"
    "inner_loop_algorithm: ppo\n"
    "inner_config:\n"
    "  ppo:\n"
    "    agent_kwargs: {activation: tanh}\n"
    "    num_envs: 5\n"
    "    num_steps: 50\n"
    "    num_epochs: 2\n"
    "    num_minibatches: 5\n"
    "    total_timesteps: 500\n"
    "    learning_rate: [0.01, 0.005]\n"
    "    gamma: [0.99, 0.95]\n"
    "eval_config: {num_eval_envs: 4, init_value: 200, end_value: 200, transition_begin: 0, transition_steps: 1}\n"
    "meta_config: {num_generations: 2, num_rollouts: 1, num_rollouts_mean: 2, mean_eval_freq: 1}\n"
    "strategy_name: SNES\n"
    "strategy_params: {popsize: 4, sigma_init: 0.05, temperature: 0}\n"
    "synth_env_kwargs: {max_steps_in_episode: 1, network_kwargs: {features: [8], latent_dist: normal}}\n";

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static int file_exists(const char *path) {
    FILE *f = fopen(path, "r");
    if (f) fclose(f);
    return f != NULL;
}

/* Removes a meta-training directory's files and the (then empty) directory. */
static void remove_run(const char *dir) {
    const char *names[] = {"state.json", "log.csv", "mean.safetensors", "best_member.safetensors",
                           "best_mean.safetensors"};
    char path[512];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        remove(path);
    }
    remove(dir);
}

static int count_lines(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    int lines = 0, c;
    while ((c = fgetc(f)) != EOF) lines += c == '\n';
    fclose(f);
    return lines;
}

typedef struct {
    int calls, done, bad, stop_at_done, stop_at_any;
    int32_t last_generation;
    float last_best;
} meta_watch;

static int32_t watch_progress(const sgx_meta_progress *p, void *user) {
    meta_watch *w = user;
    w->calls++;
    if (p->phase < 0 || p->phase > 3 || p->runs_done < 0 || p->runs_done > p->runs_total) w->bad++;
    if (p->phase == SGX_PHASE_GENERATION_DONE) {
        w->done++;
        w->last_generation = p->generation;
        w->last_best = p->best_fitness;
        if (!isfinite(p->best_fitness) || !isfinite(p->population_fitness) || !isfinite(p->mean_fitness) ||
            !(p->seconds > 0) || p->generations != 2)
            w->bad++;
        if (w->stop_at_done) return 1;
    } else if (!isnan(p->best_fitness)) {
        w->bad++;
    }
    return w->stop_at_any;
}

static void test_metalearning(void) {
    const char *config = "/tmp/sgx_test_abi_meta.yaml", *dir = "/tmp/sgx_test_abi_meta_run",
               *dir2 = "/tmp/sgx_test_abi_meta_run2";
    char path[512];
    write_text(config, meta_config_text);
    remove_run(dir);
    remove_run(dir2);

    char names[32];
    int32_t count = -1, completed = -1;
    CHECK_STATUS(sgx_meta_config_algorithms(config, names, sizeof names, &count), SGX_OK);
    CHECK(count == 1 && strcmp(names, "ppo") == 0, "algorithms %d \"%s\"", count, names);
    CHECK_STATUS(sgx_meta_config_algorithms(config, names, 3, &count), SGX_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(sgx_meta_config_algorithms(config, NULL, 0, &count), SGX_OK);

    /* a full run of the config's 2 generations, with progress */
    meta_watch w = {0};
    CHECK_STATUS(sgx_metalearn(config, dir, 0, 2, watch_progress, &w, &completed), SGX_OK);
    CHECK(completed == 2 && w.done == 2 && w.last_generation == 2 && w.bad == 0 && w.calls >= 2,
          "completed %d, %d done, last %d, %d bad of %d calls", completed, w.done, w.last_generation, w.bad, w.calls);
    snprintf(path, sizeof path, "%s/log.csv", dir);
    CHECK(count_lines(path) == 3, "log.csv has %d lines", count_lines(path));
    snprintf(path, sizeof path, "%s/best_mean.safetensors", dir);
    CHECK(file_exists(path), "best_mean.safetensors written");
    sgx_env *learned = NULL;
    CHECK_STATUS(sgx_env_create_from_checkpoint(path, NULL, NULL, 0, &learned), SGX_OK);
    CHECK(learned && strcmp(sgx_env_name(learned), "Synthetic-CartPole-v1") == 0, "learned environment");
    sgx_env_free(learned);
    /* nothing left to do: OK at once; NULL callback and out_completed */
    CHECK_STATUS(sgx_metalearn(config, dir, 2, 1, NULL, NULL, NULL), SGX_OK);

    /* stop after the first generation, then resume to the same end */
    meta_watch s = {0};
    s.stop_at_done = 1;
    CHECK_STATUS(sgx_metalearn(config, dir2, 0, 1, watch_progress, &s, &completed), SGX_STOPPED);
    CHECK(completed == 1 && s.done == 1, "stopped with %d complete, %d done", completed, s.done);
    CHECK_ERROR_MENTIONS("resume");
    meta_watch r = {0};
    CHECK_STATUS(sgx_metalearn(config, dir2, 0, 1, watch_progress, &r, &completed), SGX_OK);
    CHECK(completed == 2 && r.done == 1 && r.last_generation == 2, "resumed: %d complete", completed);
    CHECK(r.last_best == w.last_best, "resumed run's best %g equals the straight run's %g", r.last_best, w.last_best);
    /* a stop before any generation completes: nothing new */
    meta_watch a = {0};
    a.stop_at_any = 1;
    CHECK_STATUS(sgx_metalearn(config, dir2, 3, 1, watch_progress, &a, &completed), SGX_STOPPED);
    CHECK(completed == 2 && a.done == 0, "stopped at once: %d complete", completed);

    /* the paper's protocol on the learned environment */
    float returns[2 * 3], iqm[2];
    snprintf(path, sizeof path, "%s/best_mean.safetensors", dir);
    CHECK_STATUS(sgx_evaluate_transfer(path, config, "ppo", 3, 2, 0, 2, watch_progress, &(meta_watch){0}, returns, 6,
                                       iqm, 2), SGX_OK);
    CHECK(isfinite(iqm[0]) && returns[0] >= 1 && returns[0] <= 200, "iqm %g, returns[0] %g", iqm[0], returns[0]);
    float again[3], iqm2;
    CHECK_STATUS(sgx_evaluate_transfer(path, config, NULL, 3, 2, 0, 1, NULL, NULL, again, 3, &iqm2, 1), SGX_OK);
    CHECK(memcmp(again, returns, sizeof again) == 0 && iqm2 == iqm[0], "deterministic, whatever the workers");

    /* the runs' hyperparameters, without training */
    int32_t length = -1;
    CHECK_STATUS(sgx_transfer_hyperparameters(config, "ppo", 3, 0, NULL, 0, &length), SGX_OK);
    CHECK(length > 20 && length < 4096, "hyperparameters JSON of %d bytes", length);
    char json[4096], json2[4096];
    CHECK_STATUS(sgx_transfer_hyperparameters(config, "ppo", 3, 0, json, length, NULL), SGX_OK);
    CHECK((int32_t)strlen(json) + 1 == length && strncmp(json, "{\"ppo\":[{", 9) == 0 && strstr(json, "\"learning_rate\":\""),
          "hyperparameters JSON: %s", json);
    CHECK_STATUS(sgx_transfer_hyperparameters(config, NULL, 3, 0, json2, sizeof json2, NULL), SGX_OK);
    CHECK(strcmp(json, json2) == 0, "the config's algorithms by default, the same samples");
    CHECK_STATUS(sgx_transfer_hyperparameters(config, "ppo", 3, 1, json2, sizeof json2, NULL), SGX_OK);
    CHECK(strcmp(json, json2) != 0, "another seed, other samples");
    json2[0] = 'x';
    CHECK_STATUS(sgx_transfer_hyperparameters(config, "ppo", 3, 0, json2, length - 1, NULL), SGX_ERR_INVALID_ARGUMENT);
    CHECK(json2[0] == 'x', "nothing written when the JSON does not fit");
    CHECK_ERROR_MENTIONS("does not fit");
    CHECK_STATUS(sgx_transfer_hyperparameters(config, "ppo", 0, 0, NULL, 0, NULL), SGX_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(sgx_transfer_hyperparameters(config, "dqn", 3, 0, NULL, 0, NULL), SGX_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("inner_config.dqn");
    CHECK_STATUS(sgx_transfer_hyperparameters(config, "ppo", 3, 0, NULL, 8, NULL), SGX_ERR_NULL_POINTER);
    CHECK_STATUS(sgx_transfer_hyperparameters(NULL, "ppo", 3, 0, NULL, 0, NULL), SGX_ERR_NULL_POINTER);

    /* errors */
    CHECK_STATUS(sgx_metalearn("/nonexistent/config.yaml", dir, 0, 0, NULL, NULL, NULL), SGX_ERR_IO);
    CHECK_ERROR_MENTIONS("/nonexistent/config.yaml");
    const char *bad = "/tmp/sgx_test_abi_meta_bad.yaml";
    write_text(bad, "env_name: CartPole-v1\ninner_config: [unclosed\n");
    CHECK_STATUS(sgx_metalearn(bad, dir, 0, 0, NULL, NULL, NULL), SGX_ERR_FORMAT);
    CHECK_ERROR_MENTIONS("YAML");
    char text[4096];
    snprintf(text, sizeof text, "%s", meta_config_text);
    char *n = strstr(text, "num_generations: 2");
    memcpy(n, "num_generations: x", 18);
    write_text(bad, text);
    CHECK_STATUS(sgx_metalearn(bad, dir, 0, 0, NULL, NULL, NULL), SGX_ERR_FORMAT);
    CHECK_ERROR_MENTIONS("meta_config.num_generations");
    CHECK_STATUS(sgx_meta_config_algorithms(bad, NULL, 0, NULL), SGX_ERR_FORMAT);
    /* another config's directory */
    snprintf(text, sizeof text, "%s", meta_config_text);
    n = strstr(text, "seed_id: 1");
    memcpy(n, "seed_id: 2", 10);
    write_text(bad, text);
    CHECK_STATUS(sgx_metalearn(bad, dir, 0, 0, NULL, NULL, NULL), SGX_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("another config");
    CHECK_STATUS(sgx_metalearn(NULL, dir, 0, 0, NULL, NULL, NULL), SGX_ERR_NULL_POINTER);
    CHECK_STATUS(sgx_metalearn(config, NULL, 0, 0, NULL, NULL, NULL), SGX_ERR_NULL_POINTER);
    CHECK_STATUS(sgx_metalearn(config, dir, -1, 0, NULL, NULL, NULL), SGX_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(sgx_metalearn(config, dir, 0, -2, NULL, NULL, NULL), SGX_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(sgx_evaluate_transfer(path, config, "ppo,a2c", 3, 2, 0, 1, NULL, NULL, returns, 6, NULL, 0),
                 SGX_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("unknown algorithm 'a2c'");
    CHECK_STATUS(sgx_evaluate_transfer(path, config, "dqn", 3, 2, 0, 1, NULL, NULL, returns, 6, NULL, 0),
                 SGX_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("inner_config.dqn");
    CHECK_STATUS(sgx_evaluate_transfer(path, config, "ppo", 3, 2, 0, 1, NULL, NULL, returns, 2, NULL, 0),
                 SGX_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("returns_size");
    CHECK_STATUS(sgx_evaluate_transfer(path, config, "ppo", 0, 2, 0, 1, NULL, NULL, returns, 6, NULL, 0),
                 SGX_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(sgx_evaluate_transfer(path, config, "ppo", 3, 2, 0, 1, NULL, NULL, returns, 6, NULL, 1),
                 SGX_ERR_NULL_POINTER);
    CHECK_STATUS(sgx_evaluate_transfer(path, config, "ppo", 3, 2, 0, 1, NULL, NULL, NULL, 6, NULL, 0),
                 SGX_ERR_NULL_POINTER);
    CHECK_STATUS(sgx_evaluate_transfer(NULL, config, "ppo", 3, 2, 0, 1, NULL, NULL, returns, 6, NULL, 0),
                 SGX_ERR_NULL_POINTER);
    CHECK_STATUS(sgx_evaluate_transfer("/nonexistent/x.safetensors", config, "ppo", 3, 2, 0, 1, NULL, NULL, returns,
                                       6, NULL, 0), SGX_ERR_IO);
    returns[0] = -12345;
    meta_watch e = {0};
    e.stop_at_any = 1;
    CHECK_STATUS(sgx_evaluate_transfer(path, config, "ppo", 3, 2, 0, 1, watch_progress, &e, returns, 6, NULL, 0),
                 SGX_STOPPED);
    CHECK(e.calls >= 1 && returns[0] == -12345, "stopped evaluation wrote nothing");

    remove(bad);
    remove(config);
    remove_run(dir);
    remove_run(dir2);
}


/* ------------------------------------------------------------------------ */
/* Untrusted input (issue 20): every case returns its documented status     */
/* with a message naming the value; none may kill this process.             */
/* ------------------------------------------------------------------------ */

static int hostile_cases = 0;

/* One bad-input case: the call returns `expected` and the message mentions `needle`. */
#define HOSTILE(call, expected, needle)      \
    do {                                     \
        hostile_cases++;                     \
        CHECK_STATUS(call, expected);        \
        CHECK_ERROR_MENTIONS(needle);        \
    } while (0)

typedef struct {
    const char *name;
    int64_t rows, cols; /* cols < 0: a vector [rows] */
} tensor_spec;

/* A safetensors file: the metadata (a JSON object's members), the tensors
 * (zeros, laid out in order), then `extra` raw header members and
 * `extra_bytes` more zero bytes of data. */
static void write_safetensors(const char *path, const char *metadata, const tensor_spec *t, int n, const char *extra,
                              long extra_bytes) {
    static char header[1 << 16];
    int len = snprintf(header, sizeof header, "{\"__metadata__\":{%s}", metadata);
    long offset = 0;
    for (int i = 0; i < n; i++) {
        long count = t[i].cols < 0 ? (long)t[i].rows : (long)(t[i].rows * t[i].cols);
        if (t[i].cols < 0)
            len += snprintf(header + len, sizeof header - len, ",\"%s\":{\"dtype\":\"F32\",\"shape\":[%lld],"
                            "\"data_offsets\":[%ld,%ld]}", t[i].name, (long long)t[i].rows, offset, offset + 4 * count);
        else
            len += snprintf(header + len, sizeof header - len, ",\"%s\":{\"dtype\":\"F32\",\"shape\":[%lld,%lld],"
                            "\"data_offsets\":[%ld,%ld]}", t[i].name, (long long)t[i].rows, (long long)t[i].cols,
                            offset, offset + 4 * count);
        offset += 4 * count;
    }
    if (extra) len += snprintf(header + len, sizeof header - len, ",%s", extra);
    len += snprintf(header + len, sizeof header - len, "}");
    while (len % 8) header[len++] = ' ';
    FILE *f = fopen(path, "wb");
    uint64_t hl = (uint64_t)len;
    unsigned char le[8];
    for (int i = 0; i < 8; i++) le[i] = (unsigned char)(hl >> (8 * i));
    fwrite(le, 1, 8, f);
    fwrite(header, 1, (size_t)len, f);
    for (long i = 0; i < offset + extra_bytes; i++) fputc(0, f);
    fclose(f);
}

/* CartPole checkpoints with one hidden layer of 4: the one-step kind (initial
 * state and reward networks) and, with `four`, next-state and done too. */
static const tensor_spec cartpole_nets[] = {
    {"initial_state.Dense_0.kernel", 4, 4}, {"initial_state.Dense_0.bias", 4, -1},
    {"initial_state.Dense_1.kernel", 4, 4}, {"initial_state.Dense_1.bias", 4, -1},
    {"reward.Dense_0.kernel", 6, 4},        {"reward.Dense_0.bias", 4, -1},
    {"reward.Dense_1.kernel", 4, 1},        {"reward.Dense_1.bias", 1, -1},
    {"next_state_delta.Dense_0.kernel", 6, 4}, {"next_state_delta.Dense_0.bias", 4, -1},
    {"next_state_delta.Dense_1.kernel", 4, 4}, {"next_state_delta.Dense_1.bias", 4, -1},
    {"done.Dense_0.kernel", 4, 4},          {"done.Dense_0.bias", 4, -1},
    {"done.Dense_1.kernel", 4, 1},          {"done.Dense_1.bias", 1, -1},
};

static void write_cartpole_checkpoint(const char *path, int four, const char *features, const char *latent,
                                      const char *max_steps, const char *extra, long extra_bytes) {
    char metadata[1024];
    snprintf(metadata, sizeof metadata,
             "\"format\":\"synthetic-gymnax-swift/1\",\"env_id\":\"CartPole-v1\",\"features\":\"%s\","
             "\"activation\":\"relu\",\"latent_dist\":\"normal\",\"latent_size\":\"%s\",\"max_steps_in_episode\":\"%s\"",
             features, latent, max_steps);
    write_safetensors(path, metadata, cartpole_nets, four ? 16 : 8, extra, extra_bytes);
}

static void test_hostile_checkpoints(void) {
    const char *good = "/tmp/sgx_test_abi_hostile_good.safetensors", *bad = "/tmp/sgx_test_abi_hostile.safetensors",
               *config = "/tmp/sgx_test_abi_hostile_config.yaml";
    sgx_env *env = NULL;
    /* the crafted files are right when nothing is wrong with them */
    write_cartpole_checkpoint(good, 1, "4", "4", "200", NULL, 0);
    CHECK_STATUS(sgx_env_create_from_checkpoint(good, NULL, NULL, 0, &env), SGX_OK);

    /* a state handed back with time = INT32_MAX: int32 arithmetic wraps, as
     * in JAX; the synthetic environment as the classic ones */
    if (env) {
        uint32_t keys[2] = {0, 3};
        float state[5], obs[4], reward;
        int32_t time, action = 1;
        uint8_t done, term, trunc;
        CHECK_STATUS(sgx_env_reset(env, 1, keys, obs, state, &time), SGX_OK);
        time = INT32_MAX;
        hostile_cases++;
        CHECK_STATUS(sgx_env_step_discrete(env, 1, keys, state, &time, &action, obs, state, &time, &reward, &done,
                                           &term, &trunc, NULL), SGX_OK);
        CHECK(time == INT32_MIN && done == 0 && trunc == 0, "synthetic time wraps: %d done %d", time, done);
        sgx_env_free(env);
        env = NULL;
    }
    sgx_env *cartpole = NULL;
    CHECK_STATUS(sgx_env_create("CartPole-v1", NULL, NULL, 0, &cartpole), SGX_OK);
    {
        uint32_t keys[2] = {0, 3};
        float state[4], obs[4], reward;
        int32_t time, action = 1;
        uint8_t done;
        CHECK_STATUS(sgx_env_reset(cartpole, 1, keys, obs, state, &time), SGX_OK);
        time = INT32_MAX;
        hostile_cases++;
        CHECK_STATUS(sgx_env_step_discrete(cartpole, 1, keys, state, &time, &action, obs, state, &time, &reward, &done,
                                           NULL, NULL, NULL), SGX_OK);
        CHECK(time == INT32_MIN && done == 0, "CartPole time wraps: %d done %d", time, done);
    }
    sgx_env_free(cartpole);

    /* a shape whose element count overflows 64 bits */
    write_cartpole_checkpoint(bad, 0, "4", "4", "1",
                              "\"reward.Dense_9.kernel\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],"
                              "\"data_offsets\":[208,224]}", 16);
    HOSTILE(sgx_env_create_from_checkpoint(bad, NULL, NULL, 0, &env), SGX_ERR_FORMAT, "4294967296");
    CHECK(env == NULL, "no handle for a bad file");
    CHECK_ERROR_MENTIONS("overflows");
    /* the same file through the transfer evaluation */
    write_text(config, meta_config_text);
    float returns[4];
    HOSTILE(sgx_evaluate_transfer(bad, config, "ppo", 1, 1, 0, 1, NULL, NULL, returns, 4, NULL, 0), SGX_ERR_FORMAT,
            "overflows");
    /* dimensions and offsets that are not integers, or beyond 2^53 */
    write_cartpole_checkpoint(bad, 0, "4", "4", "1",
                              "\"x\":{\"dtype\":\"F32\",\"shape\":[1e300],\"data_offsets\":[208,212]}", 4);
    HOSTILE(sgx_env_create_from_checkpoint(bad, NULL, NULL, 0, &env), SGX_ERR_FORMAT, "non-negative JSON integers");
    /* numbers that are not JSON integers (the fuzzer's finds): 4.0, 1e0, true */
    write_cartpole_checkpoint(bad, 0, "4", "4", "1",
                              "\"x\":{\"dtype\":\"F32\",\"shape\":[1.0],\"data_offsets\":[208,212]}", 4);
    HOSTILE(sgx_env_create_from_checkpoint(bad, NULL, NULL, 0, &env), SGX_ERR_FORMAT, "JSON integers");
    write_cartpole_checkpoint(bad, 0, "4", "4", "1",
                              "\"x\":{\"dtype\":\"F32\",\"shape\":[true],\"data_offsets\":[208,212]}", 4);
    HOSTILE(sgx_env_create_from_checkpoint(bad, NULL, NULL, 0, &env), SGX_ERR_FORMAT, "JSON integers");
    write_cartpole_checkpoint(bad, 0, "4", "4", "1",
                              "\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[208,2.12e2]}", 4);
    HOSTILE(sgx_env_create_from_checkpoint(bad, NULL, NULL, 0, &env), SGX_ERR_FORMAT, "data_offsets");
    /* features with an empty piece */
    write_cartpole_checkpoint(bad, 0, ",4", "4", "1", NULL, 0);
    HOSTILE(sgx_env_create_from_checkpoint(bad, NULL, NULL, 0, &env), SGX_ERR_FORMAT, "comma-separated");
    write_cartpole_checkpoint(bad, 0, "4,", "4", "1", NULL, 0);
    HOSTILE(sgx_env_create_from_checkpoint(bad, NULL, NULL, 0, &env), SGX_ERR_FORMAT, "comma-separated");
    /* a header that does not begin with '{' */
    write_cartpole_checkpoint(bad, 0, "4", "4", "1", NULL, 0);
    {
        FILE *f = fopen(bad, "r+b");
        unsigned char le[8];
        size_t got = fread(le, 1, 8, f);
        uint64_t hl = 0;
        for (int i = 0; i < 8; i++) hl |= (uint64_t)le[i] << (8 * i);
        char *head = malloc(hl + 1);
        got += fread(head, 1, hl, f);
        CHECK(got == 8 + hl && head[hl - 1] == ' ', "the crafted header ends in padding");
        memmove(head + 1, head, hl - 1); /* "{...}  " -> " {...} " */
        head[0] = ' ';
        fseek(f, 8, SEEK_SET);
        fwrite(head, 1, hl, f);
        fclose(f);
        free(head);
    }
    HOSTILE(sgx_env_create_from_checkpoint(bad, NULL, NULL, 0, &env), SGX_ERR_FORMAT, "does not begin with '{'");
    write_cartpole_checkpoint(bad, 0, "4", "4", "1",
                              "\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[208,1e30]}", 4);
    HOSTILE(sgx_env_create_from_checkpoint(bad, NULL, NULL, 0, &env), SGX_ERR_FORMAT, "data_offsets");
    write_cartpole_checkpoint(bad, 0, "4", "4", "1",
                              "\"x\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[208,212]}", 4);
    HOSTILE(sgx_env_create_from_checkpoint(bad, NULL, NULL, 0, &env), SGX_ERR_FORMAT, "'x'");
    /* bytes that belong to no tensor */
    write_cartpole_checkpoint(bad, 0, "4", "4", "1", NULL, 12);
    HOSTILE(sgx_env_create_from_checkpoint(bad, NULL, NULL, 0, &env), SGX_ERR_FORMAT, "belong to no tensor");
    /* metadata numbers out of range */
    write_cartpole_checkpoint(bad, 1, "4", "4", "2147483648", NULL, 0);
    HOSTILE(sgx_env_create_from_checkpoint(bad, NULL, NULL, 0, &env), SGX_ERR_FORMAT, "max_steps_in_episode");
    CHECK_ERROR_MENTIONS("2147483648");
    HOSTILE(sgx_evaluate_transfer(bad, config, "ppo", 1, 1, 0, 1, NULL, NULL, returns, 4, NULL, 0), SGX_ERR_FORMAT,
            "2147483648");
    write_cartpole_checkpoint(bad, 0, "100000", "4", "1", NULL, 0);
    HOSTILE(sgx_env_create_from_checkpoint(bad, NULL, NULL, 0, &env), SGX_ERR_FORMAT, "features");
    CHECK_ERROR_MENTIONS("65536");
    write_cartpole_checkpoint(bad, 0, "4", "4294967296", "1", NULL, 0);
    HOSTILE(sgx_env_create_from_checkpoint(bad, NULL, NULL, 0, &env), SGX_ERR_FORMAT, "latent_size");
    char many[400] = "4";
    for (int i = 0; i < 70; i++) strcat(many, ",4");
    write_cartpole_checkpoint(bad, 0, many, "4", "1", NULL, 0);
    HOSTILE(sgx_env_create_from_checkpoint(bad, NULL, NULL, 0, &env), SGX_ERR_FORMAT, "64");
    /* a header larger than SGX_MAX_HEADER_BYTES (the file holds it all) */
    {
        FILE *f = fopen(bad, "wb");
        uint64_t hl = (uint64_t)SGX_MAX_HEADER_BYTES + 8;
        unsigned char le[8];
        for (int i = 0; i < 8; i++) le[i] = (unsigned char)(hl >> (8 * i));
        fwrite(le, 1, 8, f);
        fputc('{', f);
        for (uint64_t i = 1; i < hl - 1; i++) fputc(' ', f);
        fputc('}', f);
        fclose(f);
    }
    HOSTILE(sgx_env_create_from_checkpoint(bad, NULL, NULL, 0, &env), SGX_ERR_FORMAT, "16777224");
    /* a file larger than SGX_MAX_FILE_BYTES (sparse: no disk used), refused before reading */
    {
        FILE *f = fopen(bad, "wb");
        fseek(f, (long)SGX_MAX_FILE_BYTES + 8, SEEK_SET);
        fputc(0, f);
        fclose(f);
    }
    HOSTILE(sgx_env_create_from_checkpoint(bad, NULL, NULL, 0, &env), SGX_ERR_FORMAT, "1 GiB");
    /* a parameter given twice, for a checkpoint too */
    const char *steps2[] = {"max_steps_in_episode", "max_steps_in_episode"};
    double steps_v[] = {10, 20};
    HOSTILE(sgx_env_create_from_checkpoint(good, steps2, steps_v, 2, &env), SGX_ERR_INVALID_ARGUMENT, "given twice");
    /* a policy file whose layer sizes exceed the bounds */
    write_safetensors(bad, "\"format\":\"synthetic-gymnax-swift policy 1\",\"algorithm\":\"ppo\",\"env_id\":\"CartPole-v1\","
                           "\"activation\":\"tanh\",\"sizes\":\"4,99999999999,2\",\"head\":\"categorical\"", NULL, 0, NULL, 0);
    sgx_policy *policy = NULL;
    HOSTILE(sgx_policy_load(bad, &policy), SGX_ERR_FORMAT, "99999999999");
    write_safetensors(bad, "\"format\":\"synthetic-gymnax-swift policy 1\",\"algorithm\":\"ppo\",\"env_id\":\"CartPole-v1\","
                           "\"activation\":\"tanh\",\"sizes\":\"4,60000,60000,2\",\"head\":\"categorical\"", NULL, 0, NULL, 0);
    HOSTILE(sgx_policy_load(bad, &policy), SGX_ERR_FORMAT, "parameters");
    CHECK(policy == NULL, "no policy from a bad file");
    /* policy files the fuzzer found accepted (Tests/fuzz): a CartPole
     * categorical policy without hidden layers, then variants of it */
    const tensor_spec logits[] = {{"action_logits.kernel", 4, 2}, {"action_logits.bias", 2, -1},
                                  {"extra", 1, -1}};
#define POLICY_META(sizes, space)                                                                          \
    "\"format\":\"synthetic-gymnax-swift policy 1\",\"algorithm\":\"ppo\",\"env_id\":\"CartPole-v1\","   \
    "\"activation\":\"tanh\",\"sizes\":\"" sizes "\",\"head\":\"categorical\",\"action_space\":\"" space "\""
    write_safetensors(bad, POLICY_META("4,2", "discrete(2)"), logits, 2, NULL, 0);
    CHECK_STATUS(sgx_policy_load(bad, &policy), SGX_OK);
    sgx_policy_free(policy);
    policy = NULL;
    write_safetensors(bad, POLICY_META("4,2,", "discrete(2)"), logits, 2, NULL, 0);
    HOSTILE(sgx_policy_load(bad, &policy), SGX_ERR_FORMAT, "bad sizes '4,2,'");
    write_safetensors(bad, POLICY_META("4,2", "discrete(2)"), logits, 3, NULL, 0);
    HOSTILE(sgx_policy_load(bad, &policy), SGX_ERR_FORMAT, "unexpected tensor 'extra'");
    write_safetensors(bad, POLICY_META("4,2", "discrete(3)"), logits, 2, NULL, 0);
    HOSTILE(sgx_policy_load(bad, &policy), SGX_ERR_FORMAT, "'action_space' is 'discrete(3)'");
#undef POLICY_META
    /* keys given twice, exactly or as canonically equivalent Unicode (a
     * Swift dictionary would merge them) */
    write_safetensors(bad, "\"format\":\"synthetic-gymnax-swift/1\",\"env_id\":\"CartPole-v1\",\"features\":\"4\","
                           "\"activation\":\"relu\",\"latent_dist\":\"normal\",\"latent_size\":\"4\","
                           "\"max_steps_in_episode\":\"1\",\"caf\\u00e9\":\"one\",\"cafe\\u0301\":\"two\"",
                      cartpole_nets, 8, NULL, 0);
    HOSTILE(sgx_env_create_from_checkpoint(bad, NULL, NULL, 0, &env), SGX_ERR_FORMAT, "different Unicode forms");
    write_cartpole_checkpoint(bad, 0, "4", "4", "1", "\"__metadata__\":{\"x\":\"1\"}", 0);
    HOSTILE(sgx_env_create_from_checkpoint(bad, NULL, NULL, 0, &env), SGX_ERR_FORMAT, "appears twice");
    remove(bad);
    remove(good);
    remove(config);
}

static void test_hostile_arguments(void) {
    sgx_env *env = NULL, *cartpole = NULL, *pendulum = NULL;
    CHECK_STATUS(sgx_env_create("CartPole-v1", NULL, NULL, 0, &cartpole), SGX_OK);
    CHECK_STATUS(sgx_env_create("Pendulum-v1", NULL, NULL, 0, &pendulum), SGX_OK);
    /* environment parameters */
    const char *g[] = {"gravity"}, *gg[] = {"gravity", "gravity"};
    double huge[] = {1e308}, two[] = {9.8, 10};
    HOSTILE(sgx_env_create("CartPole-v1", g, huge, 1, &env), SGX_ERR_INVALID_ARGUMENT, "float32");
    CHECK_ERROR_MENTIONS("'gravity'");
    HOSTILE(sgx_env_create("CartPole-v1", gg, two, 2, &env), SGX_ERR_INVALID_ARGUMENT, "given twice");
    const char *torque[] = {"available_torque[0]", "available_torque[1]"};
    double tv[] = {-1, 1};
    HOSTILE(sgx_env_create("Acrobot-v1", torque, tv, 2, &env), SGX_ERR_INVALID_ARGUMENT, "has 3 elements");
    CHECK_ERROR_MENTIONS("available_torque[2]");
    const char *ms[] = {"max_steps_in_episode"};
    double big[] = {2147483648.0};
    HOSTILE(sgx_env_create("CartPole-v1", ms, big, 1, &env), SGX_ERR_INVALID_ARGUMENT, "int32");
    CHECK(env == NULL, "no environment from bad parameters");

    /* vector environments */
    sgx_vec_env *vec = NULL;
    HOSTILE(sgx_vec_env_create(cartpole, INT32_MAX, 0, &vec), SGX_ERR_INVALID_ARGUMENT, "1048576");
    HOSTILE(sgx_vec_env_create(cartpole, SGX_MAX_VEC_ENVS + 1, 0, &vec), SGX_ERR_INVALID_ARGUMENT, "SGX_MAX_VEC_ENVS");
    CHECK_STATUS(sgx_vec_env_create(cartpole, 2, 0, &vec), SGX_OK);
    int32_t actions[2] = {0, 1};
    float obs[8], reward[2];
    uint8_t term[2], trunc[2];
    HOSTILE(sgx_vec_env_step_discrete(vec, actions, obs, reward, term, trunc, NULL), SGX_ERR_INVALID_ARGUMENT,
            "sgx_vec_env_reset");
    CHECK_STATUS(sgx_vec_env_reset(vec, 0, obs), SGX_OK);
    CHECK_STATUS(sgx_vec_env_step_discrete(vec, actions, obs, reward, term, trunc, NULL), SGX_OK);
    sgx_vec_env_free(vec);
    sgx_vec_env *pvec = NULL;
    CHECK_STATUS(sgx_vec_env_create(pendulum, 2, 0, &pvec), SGX_OK);
    float pa[2] = {0, 0}, pobs[6];
    HOSTILE(sgx_vec_env_step_continuous(pvec, pa, pobs, reward, term, trunc, NULL), SGX_ERR_INVALID_ARGUMENT,
            "has not been reset");
    sgx_vec_env_free(pvec);

    /* hyperparameters */
    sgx_policy *policy = NULL;
#define TRAIN1(algo, e, name, value) \
    sgx_train(algo, e, (const char *[]){name}, (const char *[]){value}, 1, 0, &policy, NULL)
#define TRAIN2(algo, e, n1, v1, n2, v2) \
    sgx_train(algo, e, (const char *[]){n1, n2}, (const char *[]){v1, v2}, 2, 0, &policy, NULL)
    HOSTILE(TRAIN2("ppo", cartpole, "num_envs", "1e14", "num_steps", "1e14"), SGX_ERR_INVALID_ARGUMENT, "num_envs");
    CHECK_ERROR_MENTIONS("1048576");
    HOSTILE(TRAIN2("ppo", cartpole, "num_envs", "1048576", "num_steps", "1048576"), SGX_ERR_INVALID_ARGUMENT,
            "num_envs * num_steps");
    HOSTILE(TRAIN1("ppo", cartpole, "num_steps", "1e12"), SGX_ERR_INVALID_ARGUMENT, "16777216");
    HOSTILE(TRAIN1("dqn", cartpole, "buffer_size", "1e12"), SGX_ERR_INVALID_ARGUMENT, "buffer_size");
    HOSTILE(TRAIN1("sac", pendulum, "batch_size", "1e13"), SGX_ERR_INVALID_ARGUMENT, "batch_size");
    HOSTILE(TRAIN1("td3", pendulum, "num_envs", "1e12"), SGX_ERR_INVALID_ARGUMENT, "num_envs");
    HOSTILE(TRAIN1("td3", pendulum, "policy_delay", "1e14"), SGX_ERR_INVALID_ARGUMENT, "policy_delay");
    HOSTILE(TRAIN1("ddpg", pendulum, "gradient_steps", "1e12"), SGX_ERR_INVALID_ARGUMENT, "gradient_steps");
    HOSTILE(TRAIN1("ppo", cartpole, "hidden_layer_sizes", "1000000000000"), SGX_ERR_INVALID_ARGUMENT, "65536");
    HOSTILE(TRAIN1("ppo", cartpole, "hidden_layer_sizes", "65536,65536"), SGX_ERR_INVALID_ARGUMENT, "parameters");
    HOSTILE(TRAIN1("dqn", cartpole, "learning_rate", "1e39"), SGX_ERR_INVALID_ARGUMENT, "float32");
    HOSTILE(TRAIN2("ppo", pendulum, "learning_rate", "1e30", "total_timesteps", "2000"), SGX_ERR_INVALID_ARGUMENT,
            "diverged");
    CHECK_ERROR_MENTIONS("learning_rate=1e30");
    CHECK(policy == NULL, "no policy from a diverged run");
#undef TRAIN1
#undef TRAIN2
    /* evaluation sizes */
    const char *n3[] = {"total_timesteps", "num_envs", "num_steps", "num_minibatches"}, *v3[] = {"40", "2", "20", "2"};
    CHECK_STATUS(sgx_train("ppo", cartpole, n3, v3, 4, 0, &policy, NULL), SGX_OK);
    float returns[1];
    HOSTILE(sgx_policy_evaluate(policy, cartpole, INT32_MAX, 0, 1, 0, returns, NULL), SGX_ERR_INVALID_ARGUMENT,
            "1048576");
    sgx_policy_free(policy);
    sgx_env_free(cartpole);
    sgx_env_free(pendulum);
}

/* Configs: nested 5,000 deep (a 10 KB file), over 1 MiB, an alias bomb,
 * numbers beyond the bounds; through every function that reads a config. */
static void test_hostile_configs(void) {
    const char *path = "/tmp/sgx_test_abi_hostile.yaml", *dir = "/tmp/sgx_test_abi_hostile_run",
               *ckpt = "/tmp/sgx_test_abi_hostile_config.safetensors";
    int32_t count = -1, completed = -1;
    float returns[4];
    char *text = malloc(2 * 1024 * 1024);
    int len = sprintf(text, "env_name: ");
    for (int i = 0; i < 5000; i++) text[len++] = '[';
    for (int i = 0; i < 5000; i++) text[len++] = ']';
    text[len++] = '\n';
    text[len] = 0;
    write_text(path, text);
    HOSTILE(sgx_meta_config_algorithms(path, NULL, 0, &count), SGX_ERR_FORMAT, "nest deeper than 64");
    HOSTILE(sgx_metalearn(path, dir, 1, 1, NULL, NULL, &completed), SGX_ERR_FORMAT, "SGX_MAX_CONFIG_DEPTH");
    write_cartpole_checkpoint(ckpt, 0, "4", "4", "1", NULL, 0);
    HOSTILE(sgx_evaluate_transfer(ckpt, path, "ppo", 1, 1, 0, 1, NULL, NULL, returns, 4, NULL, 0), SGX_ERR_FORMAT,
            "nest deeper");
    /* block style nests too: "- - - - ..." */
    len = 0;
    for (int i = 0; i < 5000; i++) len += sprintf(text + len, "- ");
    sprintf(text + len, "x\n");
    write_text(path, text);
    HOSTILE(sgx_meta_config_algorithms(path, NULL, 0, &count), SGX_ERR_FORMAT, "nest deeper than 64");
    /* a config over SGX_MAX_CONFIG_BYTES, refused before it is read */
    len = sprintf(text, "%s# ", meta_config_text);
    while (len < SGX_MAX_CONFIG_BYTES + 10) text[len++] = 'x';
    text[len++] = '\n';
    text[len] = 0;
    write_text(path, text);
    HOSTILE(sgx_meta_config_algorithms(path, NULL, 0, &count), SGX_ERR_FORMAT, "1 MiB");
    /* aliases that expand to 10^9 values */
    sprintf(text, "%sunused: &a0 [x, x, x, x, x, x, x, x, x, x]\n", meta_config_text);
    for (int i = 1; i < 10; i++) {
        len = (int)strlen(text);
        sprintf(text + len, "a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n", i, i, i - 1,
                i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
    }
    write_text(path, text);
    HOSTILE(sgx_meta_config_algorithms(path, NULL, 0, &count), SGX_ERR_FORMAT, "SGX_MAX_CONFIG_NODES");
    /* numbers beyond the bounds, each named by its key */
    struct {
        const char *from, *to, *needle;
    } edits[] = {
        {"num_generations: 2", "num_generations: 1000000000000", "meta_config.num_generations"},
        {"num_rollouts: 1", "num_rollouts: 100000", "meta_config.num_rollouts"},
        {"popsize: 4", "popsize: 100000000", "popsize"},
        {"num_eval_envs: 4", "num_eval_envs: 1000000000", "eval_config.num_eval_envs"},
        {"features: [8]", "features: [1000000000]", "synth_env_kwargs.network_kwargs.features[0]"},
        {"max_steps_in_episode: 1", "max_steps_in_episode: 2147483648", "synth_env_kwargs.max_steps_in_episode"},
        {"init_value: 200", "init_value: 1e300", "eval_config.init_value"},
    };
    for (size_t e = 0; e < sizeof edits / sizeof edits[0]; e++) {
        const char *at = strstr(meta_config_text, edits[e].from);
        CHECK(at != NULL, "edit %s", edits[e].from);
        if (!at) continue;
        len = sprintf(text, "%.*s%s%s", (int)(at - meta_config_text), meta_config_text, edits[e].to,
                      at + strlen(edits[e].from));
        write_text(path, text);
        HOSTILE(sgx_meta_config_algorithms(path, NULL, 0, &count), SGX_ERR_FORMAT, edits[e].needle);
    }
    free(text);
    remove(path);
    remove(ckpt);
    remove_run(dir);
}

/* Task execution: an executor of this program's own runs every task with a
 * runner made from the batch's bytes (as a remote worker would), in
 * reverse order and some twice (a retry); the files and returns must equal
 * the library's own threads'. Then an executor that drops an outcome,
 * fails, or stops, and bytes that are not what they claim. */
typedef struct {
    sgx_task_runner *runner;
    uint8_t *context;
    int64_t context_size;
    int mode;         /* 0 run all, 1 leave task 0 out, 2 fail from batch fail_from on, 3 stop through report */
    int fail_from, batches, tasks, bad, probed;
} c_executor;

static int32_t c_execute(sgx_task_batch *batch, void *user) {
    c_executor *e = user;
    const uint8_t *context;
    int64_t size;
    if (sgx_task_batch_context(batch, &context, &size) != SGX_OK) return SGX_ERR_INTERNAL;
    if (!e->runner || size != e->context_size || memcmp(context, e->context, (size_t)size) != 0) {
        sgx_task_runner_free(e->runner);
        free(e->context);
        e->context = malloc((size_t)size);
        memcpy(e->context, context, (size_t)size);
        e->context_size = size;
        if (sgx_task_runner_create(context, size, &e->runner) != SGX_OK) return SGX_ERR_INTERNAL;
    }
    e->batches++;
    if (e->mode == 2 && e->batches >= e->fail_from) {
        sgx_task_batch_fail(batch, "every worker of the pool is lost");
        return SGX_ERR_IO;
    }
    int32_t n = sgx_task_batch_count(batch);
    if (n < 1) return SGX_ERR_INTERNAL;
    uint8_t outcome[SGX_MAX_OUTCOME_BYTES];
    if (!e->probed) {  /* what a careless executor or worker can do wrong, once */
        e->probed = 1;
        const uint8_t *task;
        int64_t task_size, out_size = 0;
        if (sgx_task_batch_task(batch, n, &task, &task_size) != SGX_ERR_INVALID_ARGUMENT) e->bad++;
        if (sgx_task_batch_task(batch, -1, &task, &task_size) != SGX_ERR_INVALID_ARGUMENT) e->bad++;
        sgx_task_batch_task(batch, 0, &task, &task_size);
        if (sgx_task_runner_run(e->runner, task, task_size - 1, outcome, sizeof outcome, &out_size) != SGX_ERR_FORMAT) e->bad++;
        if (!strstr(sgx_last_error(), "truncated")) e->bad++;
        if (sgx_task_runner_run(e->runner, task, task_size, outcome, 4, &out_size) != SGX_ERR_INVALID_ARGUMENT ||
            out_size <= 4 || out_size > SGX_MAX_OUTCOME_BYTES)
            e->bad++;
        if (sgx_task_runner_run(e->runner, context, size, outcome, sizeof outcome, &out_size) != SGX_ERR_FORMAT) e->bad++;
        if (sgx_task_batch_set_outcome(batch, 0, task, task_size) != SGX_ERR_FORMAT) e->bad++;
        if (sgx_task_batch_set_outcome(batch, n, outcome, 8) != SGX_ERR_INVALID_ARGUMENT) e->bad++;
        if (sgx_task_batch_report(batch, n + 1) != SGX_ERR_INVALID_ARGUMENT) e->bad++;
        sgx_task_runner *none = (sgx_task_runner *)1;
        if (sgx_task_runner_create(task, task_size, &none) != SGX_ERR_FORMAT) e->bad++;
        uint8_t *altered = malloc((size_t)size);
        memcpy(altered, context, (size_t)size);
        altered[4] ^= 0x7f;  /* the format number */
        if (sgx_task_runner_create(altered, size, &none) != SGX_ERR_FORMAT || !strstr(sgx_last_error(), "format")) e->bad++;
        free(altered);
    }
    for (int32_t k = n - 1; k >= 0; k--) {
        if (e->mode == 1 && k == 0) continue;
        const uint8_t *task;
        int64_t task_size, out_size;
        if (sgx_task_batch_task(batch, k, &task, &task_size) != SGX_OK) return SGX_ERR_INTERNAL;
        for (int twice = 0; twice <= (k % 3 == 0); twice++) {
            if (sgx_task_runner_run(e->runner, task, task_size, outcome, sizeof outcome, &out_size) != SGX_OK)
                return SGX_ERR_INTERNAL;
            if (sgx_task_batch_set_outcome(batch, k, outcome, out_size) != SGX_OK) return SGX_ERR_INTERNAL;
        }
        e->tasks++;
        if (sgx_task_batch_report(batch, n - k) == SGX_STOPPED) return SGX_STOPPED;
    }
    return SGX_OK;
}

/* The bytes of a file, and their count in *size (NULL if unreadable). */
static char *read_file(const char *path, long *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *size = ftell(f);
    rewind(f);
    char *bytes = malloc((size_t)*size + 1);
    *size = (long)fread(bytes, 1, (size_t)*size, f);
    bytes[*size] = 0;
    fclose(f);
    return bytes;
}

/* Whether two files are equal; for log.csv, every column but the second (time_gen). */
static int same_file(const char *dir_a, const char *dir_b, const char *name) {
    char pa[512], pb[512];
    snprintf(pa, sizeof pa, "%s/%s", dir_a, name);
    snprintf(pb, sizeof pb, "%s/%s", dir_b, name);
    long na = 0, nb = 0;
    char *a = read_file(pa, &na), *b = read_file(pb, &nb);
    int same = a && b;
    if (same && strcmp(name, "log.csv") == 0) {
        char *la = a, *lb = b;
        while (same && (*la || *lb)) {
            char *ea = strchr(la, '\n'), *eb = strchr(lb, '\n');
            if (!ea || !eb) { same = 0; break; }
            *ea = 0;
            *eb = 0;
            char *ta = strchr(la, ','), *tb = strchr(lb, ',');
            char *ra = ta ? strchr(ta + 1, ',') : NULL, *rb = tb ? strchr(tb + 1, ',') : NULL;
            same = ta && tb && ra && rb && ta - la == tb - lb && memcmp(la, lb, (size_t)(ta - la)) == 0 && strcmp(ra, rb) == 0;
            la = ea + 1;
            lb = eb + 1;
        }
    } else if (same) {
        same = na == nb && memcmp(a, b, (size_t)na) == 0;
    }
    free(a);
    free(b);
    return same;
}

static void test_task_execution(void) {
    const char *config = "/tmp/sgx_test_abi_tasks.yaml", *local = "/tmp/sgx_test_abi_tasks_local",
               *mine = "/tmp/sgx_test_abi_tasks_executor";
    char text[4096];
    snprintf(text, sizeof text, "%s", meta_config_text);
    char *n = strstr(text, "num_rollouts: 1,");
    memcpy(n, "num_rollouts: 3,", 16);  /* with successive halving: two population phases */
    n = strstr(text, "mean_eval_freq: 1}");
    memcpy(n, "halving_keep: 0.5}", 18);
    write_text(config, text);
    remove_run(local);
    remove_run(mine);

    int32_t completed = -1;
    CHECK_STATUS(sgx_metalearn(config, local, 0, 2, NULL, NULL, &completed), SGX_OK);
    c_executor e = {0};
    meta_watch w = {0};
    CHECK_STATUS(sgx_metalearn_with_executor(config, mine, 0, watch_progress, &w, c_execute, &e, &completed), SGX_OK);
    CHECK(completed == 2 && w.done == 2 && w.bad == 0 && e.bad == 0, "executor run: %d complete, %d/%d bad",
          completed, w.bad, e.bad);
    /* per generation: 4 first rollouts, 2 members x 2 more, the mean (2 runs) */
    CHECK(e.batches == 2 * 3 && e.tasks == 2 * (4 + 4 + 2), "%d batches, %d tasks", e.batches, e.tasks);
    const char *files[] = {"log.csv", "mean.safetensors", "best_member.safetensors", "best_mean.safetensors"};
    for (int i = 0; i < 4; i++) CHECK(same_file(local, mine, files[i]), "%s equals the local run's", files[i]);

    /* the transfer evaluation: the same returns */
    char path[512];
    snprintf(path, sizeof path, "%s/best_mean.safetensors", local);
    float returns[6], iqm[2], returns2[6], iqm2[2];
    CHECK_STATUS(sgx_evaluate_transfer(path, config, "ppo", 5, 2, 3, 2, NULL, NULL, returns, 6, iqm, 2), SGX_OK);
    CHECK_STATUS(sgx_evaluate_transfer_with_executor(path, config, "ppo", 5, 2, 3, NULL, NULL, c_execute, &e, returns2,
                                                     6, iqm2, 2), SGX_OK);
    CHECK(memcmp(returns, returns2, 5 * sizeof(float)) == 0 && iqm[0] == iqm2[0], "evaluation: iqm %g vs %g",
          iqm[0], iqm2[0]);

    /* an executor that leaves a task out, fails, or stops; the completed generations stay */
    remove_run(mine);
    c_executor drop = {.mode = 1};
    CHECK_STATUS(sgx_metalearn_with_executor(config, mine, 0, NULL, NULL, c_execute, &drop, &completed),
                 SGX_ERR_INTERNAL);
    CHECK_ERROR_MENTIONS("without an outcome for task 0");
    c_executor fail = {.mode = 2, .fail_from = 4};
    CHECK_STATUS(sgx_metalearn_with_executor(config, mine, 0, NULL, NULL, c_execute, &fail, &completed), SGX_ERR_IO);
    CHECK_ERROR_MENTIONS("every worker of the pool is lost");
    char log[512];
    snprintf(log, sizeof log, "%s/log.csv", mine);
    CHECK(count_lines(log) == 2 && completed == 1, "a failed generation 2 keeps generation 1: log.csv has %d lines, "
          "%d complete", count_lines(log), completed);
    meta_watch stop = {.stop_at_any = 1};
    c_executor stopping = {0};
    CHECK_STATUS(sgx_metalearn_with_executor(config, mine, 0, watch_progress, &stop, c_execute, &stopping, &completed),
                 SGX_STOPPED);
    CHECK(completed == 1, "stopped in generation 2: %d complete", completed);
    c_executor resume = {0};
    CHECK_STATUS(sgx_metalearn_with_executor(config, mine, 0, NULL, NULL, c_execute, &resume, &completed), SGX_OK);
    for (int i = 0; i < 4; i++) CHECK(same_file(local, mine, files[i]), "resumed: %s equals the local run's", files[i]);
    CHECK_STATUS(sgx_metalearn_with_executor(config, mine, 0, NULL, NULL, NULL, NULL, NULL), SGX_ERR_NULL_POINTER);
    CHECK_STATUS(sgx_task_runner_create(NULL, 0, NULL), SGX_ERR_NULL_POINTER);
    sgx_task_runner *runner = NULL;
    CHECK_STATUS(sgx_task_runner_create((const uint8_t *)"SGXC", 4, &runner), SGX_ERR_FORMAT);
    CHECK_STATUS(sgx_task_batch_count(NULL) < 0 ? SGX_OK : SGX_ERR_INTERNAL, SGX_OK);
    sgx_task_runner_free(NULL);
    for (c_executor *x = &e; x; x = x == &e ? &resume : x == &resume ? &drop : x == &drop ? &fail : x == &fail ? &stopping : NULL) {
        sgx_task_runner_free(x->runner);
        free(x->context);
    }
    remove_run(local);
    remove_run(mine);
    remove(config);
}

int main(void) {
    test_version();
    test_abi_constant();
    test_prng();
    test_registry();
    test_cartpole();
    test_continuous_errors();
    test_create_errors();
    test_threads();
    test_vec_env();
    test_agents();
    test_metalearning();
    test_task_execution();
    test_hostile_checkpoints();
    test_hostile_arguments();
    test_hostile_configs();
    printf("untrusted input: %d bad-input cases\n", hostile_cases);
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
