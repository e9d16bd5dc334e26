/*
 * synthetic_gymnax.h — C interface of the synthetic-gymnax Swift library.
 *
 * The library implements gymnax-compatible reinforcement-learning
 * environments (CartPole-v1, Acrobot-v1, MountainCar-v0,
 * MountainCarContinuous-v0, Pendulum-v1) natively, driven by a bit-exact
 * implementation of JAX's default PRNG (threefry2x32, partitionable), so that
 * the same key gives the same result as gymnax 0.0.9; and the synthetic
 * environments of Liesen et al. (2024): small neural networks, loaded from
 * checkpoint files, that stand in for a real environment during training;
 * and the agents that train on them (PPO, DQN, SAC, DDPG, TD3, as rejax).
 *
 * Conventions
 *   - Every symbol carries the prefix `sgx_` / `SGX_`. Names are the Swift
 *     library's, abbreviated: `sgx_env` is an `Environment`, `sgx_vec_env`
 *     a `VectorEnvironment` (the same names in Python), `sgx_policy` a
 *     trained `Policy`, `sgx_evaluate_transfer` the paper's transfer
 *     evaluation (`evaluate_transfer` in Python).
 *   - Functions that can fail return an `int32_t` status (`SGX_OK` == 0 on
 *     success). On failure `sgx_last_error()` returns a message describing
 *     the problem; it is thread-local and valid until the next failing call
 *     on the same thread.
 *   - Objects are opaque handles with an explicit create and free.
 *   - Every buffer comes with its element count, or with the batch size `n`
 *     from which the documented count follows. Buffers are caller-owned; the
 *     library never keeps a pointer to them after the call returns.
 *   - Numerics are float32, like gymnax. A PRNG key is two uint32 words, laid
 *     out exactly as `jax.random.PRNGKey(seed)` (a `uint32[2]` array).
 *   - Thread safety: functions taking a `const sgx_env *` may be called from
 *     several threads at once on the same handle; distinct handles are
 *     independent. Freeing a handle while another thread uses it is undefined.
 *
 * Compatibility: the header grows by adding functions; existing signatures
 * and status codes do not change within an ABI version. Check
 * `sgx_abi_version()` against `SGX_ABI_VERSION` at start-up.
 */
#ifndef SYNTHETIC_GYMNAX_H
#define SYNTHETIC_GYMNAX_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Version                                                                  */
/* ------------------------------------------------------------------------ */

/** ABI version of this header. Incremented only on incompatible changes. */
#define SGX_ABI_VERSION 1

/** ABI version the loaded library implements; compare with SGX_ABI_VERSION. */
int32_t sgx_abi_version(void);

/** Library version as a static NUL-terminated string, e.g. "0.1.0". */
const char *sgx_version(void);

/**
 * The value of one of this header's constants, by its name as written here,
 * for bindings that cannot read C (the Python package takes its status codes
 * from it and checks its copy of sgx_meta_progress against it):
 *   - every status code ("SGX_OK", "SGX_ERR_FORMAT", "SGX_STOPPED", ...),
 *   - every macro and enumerator of this header: "SGX_ABI_VERSION", the
 *     bounds "SGX_MAX_*" (including "SGX_MAX_OUTCOME_BYTES"), "SGX_SPACE_*",
 *     "SGX_DTYPE_*", "SGX_PHASE_*",
 *   - the layout of its structures: "sizeof(sgx_meta_progress)",
 *     "offsetof(sgx_meta_progress, <field>)" for each field (e.g.
 *     "offsetof(sgx_meta_progress, seconds)"), and the same for
 *     sgx_train_stats (one space after the comma, none elsewhere).
 * The values equal what a C compiler makes of this header.
 * Errors: SGX_ERR_NULL_POINTER (name or out_value NULL),
 * SGX_ERR_INVALID_ARGUMENT (a name that is not one of the above; the
 * message quotes it). Nothing is written on failure.
 */
int32_t sgx_abi_constant(const char *name, int64_t *out_value);

/* ------------------------------------------------------------------------ */
/* Errors                                                                   */
/* ------------------------------------------------------------------------ */

/** Status codes returned by every fallible function. */
enum {
    SGX_OK = 0,                  /**< success */
    SGX_ERR_NULL_POINTER = 1,    /**< a required pointer argument was NULL */
    SGX_ERR_INVALID_ARGUMENT = 2,/**< a size, count or value is out of range */
    SGX_ERR_UNKNOWN_ID = 3,      /**< no environment is registered under that id */
    SGX_ERR_UNKNOWN_PARAMETER = 4,/**< a parameter name the environment does not have */
    SGX_ERR_INVALID_ACTION = 5,  /**< discrete action out of range, or NaN/inf action */
    SGX_ERR_WRONG_ACTION_TYPE = 6,/**< discrete step on a continuous env or vice versa */
    SGX_ERR_IO = 7,              /**< a file could not be read or written */
    SGX_ERR_FORMAT = 8,          /**< a file is corrupt or does not fit */
    SGX_STOPPED = 9,             /**< a progress callback asked to stop; what was completed is kept */
    SGX_ERR_INTERNAL = 99        /**< a bug in the library; please report it */
};

/**
 * Message describing the last failure on the calling thread, or "" if none.
 * The string is owned by the library and valid until the next failing call
 * on the same thread.
 */
const char *sgx_last_error(void);

/** Short static name of a status code, e.g. "SGX_ERR_UNKNOWN_ID". */
const char *sgx_status_name(int32_t status);

/* ------------------------------------------------------------------------ */
/* Bounds on untrusted input                                                */
/* ------------------------------------------------------------------------ */

/*
 * Checkpoints, policy files and configs come from strangers; arguments and
 * states come from callers. No value in them can kill the process: every
 * number read is range-checked and all size arithmetic is overflow-checked,
 * and the sizes below, which have no natural bound, are checked before
 * anything is allocated. A value beyond them is refused with
 * SGX_ERR_FORMAT (in a file) or SGX_ERR_INVALID_ARGUMENT (in an argument
 * or a hyperparameter); the message names the value and the bound. The
 * bounds are far above what the paper's configs and checkpoints use.
 */
#define SGX_MAX_VEC_ENVS (1 << 20)        /**< copies per sgx_vec_env; episodes per evaluation */
#define SGX_MAX_NUM_ENVS (1 << 20)        /**< num_envs of a training run */
#define SGX_MAX_BATCH (1 << 24)           /**< buffer_size, batch_size, num_steps, num_minibatches,
                                               num_envs * num_steps (PPO's rollout) */
#define SGX_MAX_BUFFER_FLOATS (1 << 30)   /**< floats of a training run's rollout or replay buffer
                                               (transitions * (2 obs + actions + 8)); of a population */
#define SGX_MAX_LAYER_WIDTH (1 << 16)     /**< units of a layer: hidden_layer_sizes, a checkpoint's
                                               features and latent_size, a policy file's sizes */
#define SGX_MAX_LAYERS 64                 /**< layers of a network */
#define SGX_MAX_NETWORK_PARAMETERS (1 << 26) /**< weights and biases of one network */
#define SGX_MAX_FILE_BYTES (1 << 30)      /**< size of a checkpoint or policy file (checked before reading) */
#define SGX_MAX_HEADER_BYTES (1 << 24)    /**< size of a safetensors JSON header */
#define SGX_MAX_CONFIG_BYTES (1 << 20)    /**< size of a YAML config (checked before reading) */
#define SGX_MAX_CONFIG_DEPTH 64           /**< nesting of lists and mappings in a config */
#define SGX_MAX_CONFIG_NODES (1 << 20)    /**< values of a config with its aliases expanded */
#define SGX_MAX_POPULATION (1 << 16)      /**< strategy_params.popsize */
#define SGX_MAX_RUNS (1 << 16)            /**< num_rollouts, num_rollouts_mean; runs of sgx_evaluate_transfer */
/* Every other integer of a config, and every loop count of a training run
 * (epochs, gradient steps, delays), is at most 2^31 - 1; total_timesteps
 * and eval_freq below 10^15. Float parameters and hyperparameters must be
 * finite in float32 (magnitude at most 3.4028235e38; a hyperparameter may
 * be "inf" where documented). */

/* ------------------------------------------------------------------------ */
/* PRNG: JAX's threefry2x32 (jax_threefry_partitionable=True)               */
/* ------------------------------------------------------------------------ */

/**
 * `jax.random.PRNGKey(seed)` as JAX computes it by default (`jax_enable_x64`
 * off, so the seed is taken modulo 2^32): out_key = {0, seed mod 2^32}.
 */
int32_t sgx_prng_key(int64_t seed, uint32_t out_key[2]);

/** `jax.random.split(key, num)`: writes `num` keys (2*num words) to out_keys. num >= 1. */
int32_t sgx_prng_split(const uint32_t key[2], int32_t num, uint32_t *out_keys);

/** `jax.random.fold_in(key, data)`. */
int32_t sgx_prng_fold_in(const uint32_t key[2], uint32_t data, uint32_t out_key[2]);

/** `jax.random.bits(key, (n,), uint32)`: n >= 0 words. */
int32_t sgx_prng_bits(const uint32_t key[2], int64_t n, uint32_t *out);

/** `jax.random.uniform(key, (n,), float32, minval, maxval)`. */
int32_t sgx_prng_uniform(const uint32_t key[2], int64_t n, float minval, float maxval,
                         float *out);

/** `jax.random.randint(key, (n,), minval, maxval, int32)`: values in [minval, maxval). */
int32_t sgx_prng_randint(const uint32_t key[2], int64_t n, int32_t minval, int32_t maxval,
                         int32_t *out);

/** `jax.random.normal(key, (n,), float32)` (within 1e-6 of JAX). */
int32_t sgx_prng_normal(const uint32_t key[2], int64_t n, float *out);

/* ------------------------------------------------------------------------ */
/* Environment registry                                                     */
/* ------------------------------------------------------------------------ */

/** Number of registered environment ids. */
int32_t sgx_env_registered_count(void);

/** The registered id at `index` (0 <= index < count), or NULL when out of range. Static string. */
const char *sgx_env_registered_id(int32_t index);

/*
 * The MuJoCo locomotion tasks, with Brax's ids, registered after the classic
 * ones (and their synthetic counterparts "Synthetic-<id>"):
 *
 *   id                observation  action  physics dt
 *   "hopper"                   11       3  0.008 s (0.002 s x n_frames 4)
 *   "walker2d"                 17       6  0.008 s
 *   "halfcheetah"              17       6  0.05 s
 *   "swimmer"                   8       2  0.04 s
 *   "humanoidstandup"         244      17  0.015 s
 *
 * Actions are float32 boxes in [-1, 1] (sgx_env_step_continuous), mapped
 * onto the actuators' control ranges. Episodes last max_steps_in_episode
 * steps (1000); hopper and walker2d also end when the body leaves its healthy
 * range (terminate_when_unhealthy = 1). Their parameters are Brax's, by its
 * names: forward_reward_weight, ctrl_cost_weight, reset_noise_scale,
 * n_frames, max_steps_in_episode, and per task healthy_reward,
 * terminate_when_unhealthy, "healthy_z_range[0]", ... (hopper, walker2d),
 * uph_cost_weight (humanoidstandup); sgx_env_param lists them.
 *
 * A state is qpos, qvel, then ctrl (humanoidstandup only: its observation
 * includes the actuator forces), then the bool field "unstable": 1 in the
 * state a step returns when that step ended the episode because the
 * simulation went unstable (MuJoCo warned of a NaN or huge value, or a value
 * left the float32 range); the episode is then terminated with reward 0 and
 * the state returned is the auto-reset one, flagged. The next step clears it.
 * Each task's observation layout, reward and termination are documented at
 * the top of its source file (Sources/SGXEnvironments/MuJoCo/).
 *
 * Run time: the tasks need MuJoCo 2.2.2's C library, which
 * libsynthetic_gymnax does not link: it is opened the first time a MuJoCo
 * task is created, as $SGX_MUJOCO_LIBRARY when set, else libmujoco.so.2.2.2,
 * else libmujoco.so (Debian/Ubuntu: the libmujoco2.2.2 package), and its
 * mj_version() must equal 2.2.2's. Every other environment works without it.
 *
 * Errors of sgx_env_create for these ids: SGX_ERR_IO (the MuJoCo library is
 * missing, has another version, or cannot load or hold the model; the
 * message names the library and what failed), SGX_ERR_INVALID_ARGUMENT
 * (n_frames or max_steps_in_episode below 1, terminate_when_unhealthy other
 * than 0 or 1, and the rules for all parameters), SGX_ERR_UNKNOWN_PARAMETER.
 */

/* ------------------------------------------------------------------------ */
/* Environments                                                             */
/* ------------------------------------------------------------------------ */

/** An environment with fixed parameters. Opaque; create with sgx_env_create. */
typedef struct sgx_env sgx_env;

/** Kinds of action space. */
enum {
    SGX_SPACE_DISCRETE = 0,      /**< actions are int32 in [0, n) */
    SGX_SPACE_BOX = 1            /**< actions are float32 vectors with bounds */
};

/** Data types of parameters and state fields. */
enum {
    SGX_DTYPE_FLOAT32 = 0,
    SGX_DTYPE_INT32 = 1,
    SGX_DTYPE_BOOL = 2
};

/**
 * Creates the environment registered as `id` (e.g. "CartPole-v1") with its
 * gymnax default parameters, overridden by `num_params` name/value pairs
 * (names as the fields of gymnax's EnvParams, e.g. "max_steps_in_episode",
 * "gravity"; integer parameters must be given integral values). `param_names`
 * and `param_values` may be NULL when num_params == 0.
 * On success *out_env receives a handle to free with sgx_env_free.
 * Float parameters must be finite in float32 (gravity = 1e308 is refused;
 * only the unbounded end of a range, Hopper's healthy_z_range[1], may be
 * infinite), integer ones int32 integers. A name may be given once; an array
 * parameter whole or not at all (all three of Acrobot's
 * "available_torque[i]", or none) — the same rule as sgx_train's for
 * hyperparameters given twice.
 * Errors: SGX_ERR_UNKNOWN_ID, SGX_ERR_UNKNOWN_PARAMETER, SGX_ERR_INVALID_ARGUMENT
 * (non-finite value or one beyond float32, non-integral or non-positive
 * max_steps_in_episode, a name given twice, part of an array parameter, ...).
 */
int32_t sgx_env_create(const char *id, const char *const *param_names,
                       const double *param_values, int32_t num_params, sgx_env **out_env);

/** Frees an environment. NULL is accepted and ignored. */
void sgx_env_free(sgx_env *env);

/** The environment's id (gymnax's `env.name`), static for the handle's lifetime; NULL if env is NULL. */
const char *sgx_env_name(const sgx_env *env);

/** Observation size (observations are flat float32 vectors); -1 if env is NULL. */
int32_t sgx_env_obs_size(const sgx_env *env);

/** Observation-space bounds: writes obs_size floats to each of low and high. size must equal obs_size. */
int32_t sgx_env_obs_bounds(const sgx_env *env, float *low, float *high, int32_t size);

/** SGX_SPACE_DISCRETE or SGX_SPACE_BOX; -1 if env is NULL. */
int32_t sgx_env_action_kind(const sgx_env *env);

/**
 * For a discrete space the number of actions n; for a box the number of
 * action components (gymnax's `num_actions`). -1 if env is NULL.
 */
int32_t sgx_env_num_actions(const sgx_env *env);

/** Action-space bounds of a box space: `size` (= num_actions) floats each. */
int32_t sgx_env_action_bounds(const sgx_env *env, float *low, float *high, int32_t size);

/**
 * Number of parameters (gymnax EnvParams fields). A parameter that is an
 * array in gymnax is exposed element by element: Acrobot's available_torque
 * is "available_torque[0]", "available_torque[1]", "available_torque[2]".
 */
int32_t sgx_env_param_count(const sgx_env *env);

/**
 * Parameter `index`: its name (static for the handle's lifetime), current
 * value and dtype (SGX_DTYPE_FLOAT32 or SGX_DTYPE_INT32). Any out pointer may be NULL.
 */
int32_t sgx_env_param(const sgx_env *env, int32_t index, const char **out_name,
                      double *out_value, int32_t *out_dtype);

/**
 * State layout. A state is `state_size` float32 values plus an int32 step
 * counter `time` (gymnax's EnvState.time). The float values are the gymnax
 * EnvState fields in order, each a slice [offset, offset + length).
 */
int32_t sgx_env_state_size(const sgx_env *env);

/** Number of state fields, not counting `time`. */
int32_t sgx_env_state_field_count(const sgx_env *env);

/**
 * State field `index`: name (e.g. "theta_dot"), offset and length in the
 * float32 state vector, and dtype (SGX_DTYPE_FLOAT32, or SGX_DTYPE_BOOL stored
 * as 0.0/1.0). Any out pointer may be NULL.
 */
int32_t sgx_env_state_field(const sgx_env *env, int32_t index, const char **out_name,
                            int32_t *out_offset, int32_t *out_length, int32_t *out_dtype);

/* ------------------------------------------------------------------------ */
/* Synthetic environments                                                   */
/* ------------------------------------------------------------------------ */

/**
 * Creates a synthetic environment ("Synthetic-<id>") from a checkpoint file:
 * safetensors (float32 little-endian tensors named like
 * "initial_state.Dense_0.kernel", "reward.Dense_1.bias") whose metadata holds
 * the network configuration ("format" = "synthetic-gymnax-swift/1",
 * "env_id" of the real environment, "features" as comma-separated hidden
 * sizes, "activation", "latent_dist", "latent_size", "max_steps_in_episode").
 * Observation and action spaces are the real environment's. The only
 * parameter that may be overridden is "max_steps_in_episode", and only for a
 * checkpoint whose networks include next-state and done (one with
 * max_steps_in_episode > 1).
 * The file is untrusted: its size (at most SGX_MAX_FILE_BYTES, checked
 * before reading), its header (at most SGX_MAX_HEADER_BYTES), every shape
 * and offset (JSON integers, overflow-checked; the tensors must cover the
 * data exactly, as the safetensors library requires; no key given twice in
 * an object, exactly or in another Unicode form) and every metadata number
 * (max_steps_in_episode an int32, features and latent_size at most
 * SGX_MAX_LAYER_WIDTH, at most SGX_MAX_LAYERS layers, at most
 * SGX_MAX_NETWORK_PARAMETERS per network) are checked.
 * Errors: SGX_ERR_IO (missing or unreadable file), SGX_ERR_FORMAT (truncated,
 * corrupt, a missing or unexpected tensor, a wrong shape, non-finite
 * weights, bad metadata, a size beyond the bounds), SGX_ERR_UNKNOWN_ID
 * (unknown env_id), and those of sgx_env_create for the parameters
 * (max_steps_in_episode given twice).
 */
int32_t sgx_env_create_from_checkpoint(const char *path, const char *const *param_names,
                                       const double *param_values, int32_t num_params,
                                       sgx_env **out_env);

/**
 * Writes a synthetic environment's networks and configuration to `path` in
 * the checkpoint format above (metadata beyond the configuration, such as
 * "source", is kept as loaded). SGX_ERR_INVALID_ARGUMENT if `env` is not a
 * synthetic environment; SGX_ERR_IO if the file cannot be written.
 */
int32_t sgx_env_save_checkpoint(const sgx_env *env, const char *path);

/* ------------------------------------------------------------------------ */
/* Stepping                                                                 */
/* ------------------------------------------------------------------------ */

/**
 * Batched `env.reset(key, params)` for n >= 1 environments.
 *   keys      n*2 uint32, one JAX key per environment
 *   out_obs   n*obs_size float32
 *   out_state n*state_size float32
 *   out_time  n int32
 */
int32_t sgx_env_reset(const sgx_env *env, int32_t n, const uint32_t *keys, float *out_obs,
                      float *out_state, int32_t *out_time);

/**
 * Batched `env.step(key, state, action, params)` for n >= 1 environments with
 * gymnax's auto-reset: the key is split into a step key and a reset key, and
 * an environment whose step ends the episode returns the reset observation
 * and state (reward and flags are those of the step).
 *   keys           n*2 uint32
 *   state, time    n*state_size float32 and n int32: the current states
 *   actions        discrete: n int32 in [0, num_actions)
 *                  box:      n*num_actions float32, finite; out-of-bounds
 *                            values are clipped by the classic-control
 *                            environments (as in gymnax) and passed to the
 *                            networks unclipped by synthetic ones (as in the
 *                            original SynthEnv)
 *   out_obs        n*obs_size float32
 *   out_state      n*state_size float32 (may alias `state`)
 *   out_time       n int32 (may alias `time`)
 *   out_reward     n float32
 *   out_done       n uint8: the episode ended (gymnax 0.0.9's `done`),
 *                  i.e. terminated or truncated
 * Optional outputs (NULL to skip):
 *   out_terminated n uint8: the step reached a terminal state (time limit
 *                  not counted)
 *   out_truncated  n uint8: the step reached the time limit
 *                  (time >= max_steps_in_episode), as gymnax 1.x's
 *                  `truncated`; both flags may be 1. A one-step synthetic
 *                  environment (max_steps_in_episode 1, every published
 *                  checkpoint) has no time limit: each step terminates
 *                  (terminated 1, truncated 0), as the original's
 *                  is_terminal says, so that no agent bootstraps past it
 *   out_final_obs  n*obs_size float32: the observation the step reached,
 *                  before any reset (gymnax 1.x's `final_observation`)
 * The states are the caller's and may hold any values: non-finite floats
 * flow through the dynamics (NaN in, NaN out), and `time` is int32
 * arithmetic that wraps as in JAX (gymnax under jit): a state with time =
 * INT32_MAX steps to time = INT32_MIN, which is below every step limit, so
 * the episode goes on. Every environment, classic, MuJoCo or synthetic,
 * behaves so, here and under jit.
 * Errors: SGX_ERR_WRONG_ACTION_TYPE, SGX_ERR_INVALID_ACTION (nothing is
 * written when any action is invalid), SGX_ERR_NULL_POINTER,
 * SGX_ERR_INVALID_ARGUMENT (n < 1).
 */
int32_t sgx_env_step_discrete(const sgx_env *env, int32_t n, const uint32_t *keys,
                              const float *state, const int32_t *time, const int32_t *actions,
                              float *out_obs, float *out_state, int32_t *out_time,
                              float *out_reward, uint8_t *out_done, uint8_t *out_terminated,
                              uint8_t *out_truncated, float *out_final_obs);

/** Box-action variant of sgx_env_step_discrete; `actions` holds n*num_actions float32. */
int32_t sgx_env_step_continuous(const sgx_env *env, int32_t n, const uint32_t *keys,
                                const float *state, const int32_t *time, const float *actions,
                                float *out_obs, float *out_state, int32_t *out_time,
                                float *out_reward, uint8_t *out_done, uint8_t *out_terminated,
                                uint8_t *out_truncated, float *out_final_obs);

/* ------------------------------------------------------------------------ */
/* Vector environments: N copies stepped together, states and keys inside   */
/* ------------------------------------------------------------------------ */

/**
 * N copies of an environment that own their states and keys, for loops that
 * only choose actions (evaluation, numpy users). Randomness follows JAX: the
 * reset keys are split(PRNGKey(seed), n); step t (from 1 after each reset)
 * uses split(fold_in(PRNGKey(seed), t), n). A vector environment keeps its
 * own reference to the environment (which may be freed first). Use one
 * sgx_vec_env from one thread at a time.
 */
typedef struct sgx_vec_env sgx_vec_env;

/**
 * Creates 1 <= n <= SGX_MAX_VEC_ENVS copies of `env` (checked before
 * allocating; SGX_ERR_INVALID_ARGUMENT beyond it); call sgx_vec_env_reset
 * before stepping.
 */
int32_t sgx_vec_env_create(const sgx_env *env, int32_t n, int64_t seed, sgx_vec_env **out_vec);

/** Frees a vector environment. NULL is accepted and ignored. */
void sgx_vec_env_free(sgx_vec_env *vec);

/** Resets all copies from `seed`; writes n*obs_size observations. */
int32_t sgx_vec_env_reset(sgx_vec_env *vec, int64_t seed, float *out_obs);

/**
 * Steps all copies with auto-reset. actions: n int32 (discrete). Writes
 * n*obs_size observations (after any reset), n rewards, n terminal flags,
 * n time-limit flags, and, unless out_final_obs is NULL, the n*obs_size
 * observations reached before any reset. On an invalid action nothing is
 * written and the state is unchanged. Before the first sgx_vec_env_reset:
 * SGX_ERR_INVALID_ARGUMENT (there are no states to step).
 */
int32_t sgx_vec_env_step_discrete(sgx_vec_env *vec, const int32_t *actions, float *out_obs,
                                  float *out_reward, uint8_t *out_terminated,
                                  uint8_t *out_truncated, float *out_final_obs);

/** Box-action variant: actions holds n*num_actions finite float32. */
int32_t sgx_vec_env_step_continuous(sgx_vec_env *vec, const float *actions, float *out_obs,
                                    float *out_reward, uint8_t *out_terminated,
                                    uint8_t *out_truncated, float *out_final_obs);

/* ------------------------------------------------------------------------ */
/* XLA FFI handlers: reset and step inside compiled JAX programs            */
/* ------------------------------------------------------------------------ */

/*
 * Handlers of XLA's typed FFI (custom_call api_version 4, XLA:CPU), so that
 * a JAX program calls the library with no Python in between:
 *
 *   jax.ffi.register_ffi_target("sgx_env_step", jax.ffi.pycapsule(lib.sgx_xla_ffi_env_step),
 *                               platform="cpu")
 *   jax.ffi.ffi_call("sgx_env_step", results, vmap_method="broadcast_all")(
 *       keys, state, time, actions, env=np.uint64(address of the sgx_env))
 *
 * The Python package does this (synthetic_gymnax_swift/_xla.py). The
 * attribute `env` is the `sgx_env *` as a 64-bit integer; it must stay alive
 * as long as any compiled program that names it. Operands and results are
 * dense row-major arrays whose leading axes are the batch (B elements):
 *
 *   sgx_xla_ffi_env_reset  operands: keys uint32[B..., 2]
 *                          results:  obs float32[B..., obs_size],
 *                                    state float32[B..., state_size], time int32[B...]
 *   sgx_xla_ffi_env_step   operands: keys uint32[B..., 2], state float32[B..., state_size],
 *                                    time int32[B...], actions (discrete: int32[B...], or
 *                                    float32[B...] holding integers; box:
 *                                    float32[B..., num_actions])
 *                          results:  obs, state, time, reward float32[B...], done bool[B...]
 *                                    and optionally (8 results instead of 5)
 *                                    terminated bool[B...], truncated bool[B...],
 *                                    final_obs float32[B..., obs_size]
 *
 * as sgx_env_reset and sgx_env_step_*, whose checks and messages they share:
 * an invalid action, a wrong dtype or size, a missing attribute become an
 * XLA error with that message (JAX raises it); nothing crashes. A batch of
 * zero environments does nothing. They answer XLA's metadata query with FFI
 * API version 0.1, the oldest XLA accepts; the XLA structures are read
 * through the library's own declarations (no jaxlib needed to build it).
 */
struct sgx_xla_call_frame;
struct sgx_xla_error;

/** The reset handler: an XLA_FFI_Handler. */
struct sgx_xla_error *sgx_xla_ffi_env_reset(struct sgx_xla_call_frame *call_frame);

/** The step handler (with auto-reset): an XLA_FFI_Handler. */
struct sgx_xla_error *sgx_xla_ffi_env_step(struct sgx_xla_call_frame *call_frame);

/* ------------------------------------------------------------------------ */
/* Agents: train, evaluate, act, save, load                                 */
/* ------------------------------------------------------------------------ */

/**
 * A trained policy: the acting network of an agent and how its outputs
 * become actions. Opaque; from sgx_train or sgx_policy_load, freed with
 * sgx_policy_free. A policy is immutable: it may be used from several
 * threads at once.
 */
typedef struct sgx_policy sgx_policy;

/** What sgx_train measured (out_stats, optional). */
typedef struct sgx_train_stats {
    int64_t env_steps;   /**< environment steps taken */
    int64_t updates;     /**< optimiser steps of the main network */
    double flops;        /**< floating-point operations of the networks' passes */
    double seconds;      /**< wall time of the training */
} sgx_train_stats;

/**
 * Trains `algorithm` on `env` from `seed` and returns the policy.
 *   algorithm  "ppo", "dqn", "sac", "ddpg" or "td3" (case-insensitive):
 *              rejax's algorithms (PPO as rejax 0.1.3, the others as rejax
 *              0.0.1, the version the paper's configurations were written
 *              for). DQN needs discrete actions, DDPG and TD3 continuous ones.
 *   hparam_names, hparam_values
 *              num_hparams name/value pairs, both as text, by the names of
 *              rejax and of the upstream meta-training configs
 *              ("learning_rate" = "0.001", "num_envs" = "5", "ddqn" = "true",
 *              "agent" = "DuelingQNetwork", nested keyword arguments joined
 *              by a dot: "agent_kwargs.activation" = "tanh"); the others
 *              keep rejax's defaults. NULL when num_hparams == 0.
 *   env        any environment, real or synthetic; the episodes auto-reset.
 *   out_policy receives the policy (free it with sgx_policy_free).
 *   out_stats  optional (NULL to skip).
 * The same arguments give the same policy bit for bit, whatever the number
 * of threads. Training runs on the calling thread (environment batches of
 * 512 or more use the other cores); train several agents at once from
 * several threads.
 * Sizes are bounded and checked before anything is allocated: num_envs
 * <= SGX_MAX_NUM_ENVS; num_steps, num_envs * num_steps, num_minibatches,
 * buffer_size, batch_size <= SGX_MAX_BATCH; hidden_layer_sizes at most
 * SGX_MAX_LAYERS layers of at most SGX_MAX_LAYER_WIDTH units, and at most
 * SGX_MAX_NETWORK_PARAMETERS per network for env's sizes; the rollout or
 * replay buffer at most SGX_MAX_BUFFER_FLOATS floats; other counts at
 * most 2^31 - 1. Float values must be finite in float32 (or "inf" where
 * rejax allows it).
 * Divergence is an error, not a policy: a run whose parameters (or
 * observation statistics) are not finite at the end, e.g. PPO on
 * Pendulum-v1 with learning_rate = 1e30, returns SGX_ERR_INVALID_ARGUMENT
 * with a message that says "diverged" and names the hyperparameters.
 * Errors: SGX_ERR_INVALID_ARGUMENT (unknown algorithm, a malformed or
 * out-of-range value, an algorithm that cannot use env's action space, a
 * name given twice, a diverged run), SGX_ERR_UNKNOWN_PARAMETER (a name the
 * algorithm does not have; the message lists its names), SGX_ERR_NULL_POINTER.
 */
int32_t sgx_train(const char *algorithm, const sgx_env *env, const char *const *hparam_names,
                  const char *const *hparam_values, int32_t num_hparams, int64_t seed,
                  sgx_policy **out_policy, sgx_train_stats *out_stats);

/** Frees a policy. NULL is accepted and ignored. */
void sgx_policy_free(sgx_policy *policy);

/**
 * Loads a policy saved by sgx_policy_save (safetensors: the network's
 * tensors by rejax's module names, metadata with the algorithm, env_id,
 * activation, sizes, head, action space and hyperparameters "hp.<name>").
 * The file is checked as sgx_env_create_from_checkpoint checks a checkpoint
 * (sizes, header, shapes, offsets; layer sizes within SGX_MAX_LAYER_WIDTH,
 * SGX_MAX_LAYERS and SGX_MAX_NETWORK_PARAMETERS), and must hold exactly the
 * tensors of its head (no others), an action box with low <= high, and
 * "action_space" / "hidden_layer_sizes" metadata, when present, that agree
 * with "sizes" and "head".
 * Errors: SGX_ERR_IO (missing or unreadable file), SGX_ERR_FORMAT (not a
 * policy file, a missing tensor or a wrong shape, non-finite weights, a
 * size beyond the bounds).
 */
int32_t sgx_policy_load(const char *path, sgx_policy **out_policy);

/** Saves a policy to `path`. SGX_ERR_IO if it cannot be written. */
int32_t sgx_policy_save(const sgx_policy *policy, const char *path);

/** The algorithm that trained the policy ("ppo", ...); static for the handle's lifetime; NULL if policy is NULL. */
const char *sgx_policy_algorithm(const sgx_policy *policy);

/** The id of the environment it was trained on; static for the handle's lifetime; NULL if policy is NULL. */
const char *sgx_policy_env_id(const sgx_policy *policy);

/** Observation size the policy takes; -1 if policy is NULL. */
int32_t sgx_policy_obs_size(const sgx_policy *policy);

/** SGX_SPACE_DISCRETE or SGX_SPACE_BOX; -1 if policy is NULL. */
int32_t sgx_policy_action_kind(const sgx_policy *policy);

/** Number of discrete actions, or action components of a box; -1 if policy is NULL. */
int32_t sgx_policy_num_actions(const sgx_policy *policy);

/**
 * Actions for n >= 1 observations (n*obs_size finite float32).
 * deterministic != 0: the greedy action (argmax of logits or Q-values, the
 * Gaussian's clipped mean, the squashed mean); `key` is ignored and may be
 * NULL. deterministic == 0: sampled as the agent explores-free evaluation of
 * rejax does (categorical, Gaussian, squashed Gaussian samples; DQN
 * epsilon-greedy with epsilon 0.05) from `key` (two uint32 words) for the
 * whole batch.
 * Writes n int32 actions in [0, num_actions) (discrete policies; else
 * SGX_ERR_WRONG_ACTION_TYPE) or n*num_actions float32 inside the action
 * box (continuous policies, sgx_policy_act_continuous).
 * Errors: SGX_ERR_INVALID_ARGUMENT (n < 1, a non-finite observation, an
 * action that comes out non-finite: the message says which).
 */
int32_t sgx_policy_act_discrete(const sgx_policy *policy, int32_t n, const float *obs,
                                int32_t deterministic, const uint32_t key[2], int32_t *out_actions);

/** Box-action variant of sgx_policy_act_discrete: writes n*num_actions float32. */
int32_t sgx_policy_act_continuous(const sgx_policy *policy, int32_t n, const float *obs,
                                  int32_t deterministic, const uint32_t key[2], float *out_actions);

/**
 * Returns of `episodes` >= 1 episodes of `policy` on `env`, as rejax's
 * evaluate: keys split(PRNGKey(seed), episodes); each episode splits its key
 * into (reset, rng), and each step splits rng into (rng, act, step); an
 * episode runs until it is done or reaches `max_steps` steps (0: the
 * environment's max_steps_in_episode). Writes `episodes` float32 returns
 * and, unless out_lengths is NULL, `episodes` int32 lengths.
 * Errors: SGX_ERR_INVALID_ARGUMENT (the policy's observation or action
 * space does not fit env, episodes < 1 or > SGX_MAX_VEC_ENVS, max_steps <
 * 0, a non-finite action or return: the policy or the environment
 * diverged, and the message says where).
 */
int32_t sgx_policy_evaluate(const sgx_policy *policy, const sgx_env *env, int32_t episodes,
                            int64_t seed, int32_t deterministic, int32_t max_steps,
                            float *out_returns, int32_t *out_lengths);

/* ------------------------------------------------------------------------ */
/* Meta-learning: evolve synthetic environments, evaluate their transfer    */
/* ------------------------------------------------------------------------ */

/*
 * The meta-training of Liesen et al. (2024), upstream's
 * examples/metalearn_synthenv.py: each generation an evolution strategy
 * (SNES or OpenES, as evosax 0.1.6) proposes a population of synthetic
 * environments; every member trains the generation's inner-loop algorithm
 * with hyperparameters sampled from the config's lists and is evaluated on
 * the real environment; the mean return is its fitness. Configs are YAML
 * files in upstream's schema (env_name, inner_loop_algorithm, inner_config,
 * eval_config, meta_config, strategy_name, strategy_params,
 * synth_env_kwargs), so existing ones run unchanged.
 */

/** Phases reported by sgx_meta_progress.phase. */
enum {
    SGX_PHASE_POPULATION = 0,    /**< training and evaluating the population's members */
    SGX_PHASE_MEAN = 1,          /**< evaluating the search mean (every mean_eval_freq generations) */
    SGX_PHASE_GENERATION_DONE = 2,/**< a generation is complete and saved; its results are set */
    SGX_PHASE_EVALUATION = 3     /**< sgx_evaluate_transfer's runs */
};

/**
 * What a progress callback receives. The fitness fields are NaN except in
 * SGX_PHASE_GENERATION_DONE (mean_fitness is NaN too in a generation that
 * did not evaluate the search mean). Per-algorithm figures are in the
 * output directory's log.csv, already written when the callback runs.
 */
typedef struct sgx_meta_progress {
    int32_t generation;          /**< 1-based generation in progress or just completed; 0 in SGX_PHASE_EVALUATION */
    int32_t generations;         /**< the generation the run stops after; 0 in SGX_PHASE_EVALUATION */
    int32_t phase;               /**< SGX_PHASE_* */
    int32_t runs_done;           /**< inner-loop runs finished in this phase */
    int32_t runs_total;          /**< inner-loop runs of this phase */
    float best_fitness;          /**< best member fitness so far (the strategy's) */
    float population_fitness;    /**< mean fitness of this generation's population */
    float population_fitness_std;/**< its standard deviation */
    float mean_fitness;          /**< the search mean's fitness, when evaluated this generation */
    double seconds;              /**< phase 2: the generation's wall time (log.csv's time_gen);
                                      phases 0, 1: seconds since the generation began;
                                      phase 3: seconds since the evaluation began */
} sgx_meta_progress;

/**
 * A progress callback: called on the thread that called sgx_metalearn or
 * sgx_evaluate_transfer, about four times a second and once after each
 * generation. `progress` is valid during the call only. Return 0 to go on,
 * nonzero to stop.
 */
typedef int32_t (*sgx_progress_fn)(const sgx_meta_progress *progress, void *user);

/**
 * Runs meta-training for the config file `config_path` into the directory
 * `out_dir` (created if needed), until `generations` generations are
 * complete in total (0: the config's meta_config.num_generations), on
 * `workers` threads (0: all cores; population members' runs in parallel;
 * the results do not depend on it).
 *
 * Files in out_dir, rewritten atomically after every generation (each
 * written to a temporary file, flushed to disk with fsync, then renamed;
 * a kill loses at most the generation in progress). Order: the
 * checkpoints, then state.json (the commit point), then log.csv; so after
 * a kill log.csv holds state.json's log or lacks its last row, never a
 * generation state.json does not have, and the same call resumes (and
 * rewrites log.csv first):
 *   state.json               the strategy, key, log and config text: resume
 *   log.csv                  one row per generation (upstream's columns:
 *                            num_gens, time_gen, eval_steps, best_fitness,
 *                            population_fitness, population_fitness_std,
 *                            final_return/<algo>, ..., mean_fitness, ...)
 *   mean.safetensors         the search mean (a checkpoint for
 *                            sgx_env_create_from_checkpoint)
 *   best_member.safetensors  the fittest member so far
 *   best_mean.safetensors    the search mean with the best mean fitness so far
 *
 * Resume: when out_dir holds the state of a run of the same config (the
 * same text), the run continues from its last completed generation; a
 * directory whose state is of another config is refused.
 *
 * `callback` (NULL for none) receives `user` and the progress. When it
 * returns nonzero the generation in progress is dropped (its running
 * inner-loop runs finish first) and the call returns: SGX_STOPPED if fewer
 * than `generations` are complete, SGX_OK if the stop came with the last
 * one. `out_completed` (may be NULL) receives the number of generations
 * complete in out_dir, on success and on SGX_STOPPED.
 *
 * The config is untrusted: at most SGX_MAX_CONFIG_BYTES (checked before
 * reading), lists and mappings nested at most SGX_MAX_CONFIG_DEPTH deep
 * (checked before the YAML is composed, so a config nested 5,000 deep is
 * an error, not a stack overflow), at most SGX_MAX_CONFIG_NODES values with
 * aliases expanded; integers at most 2^31 - 1, popsize at most
 * SGX_MAX_POPULATION, num_rollouts and num_rollouts_mean at most
 * SGX_MAX_RUNS, num_eval_envs at most SGX_MAX_VEC_ENVS, network sizes as
 * for checkpoints, evaluation lengths in 0...2^31 - 1. Inner-loop runs that
 * diverge are recorded as failed runs (log.csv's failed_runs/<algo>).
 *
 * Errors: SGX_ERR_NULL_POINTER (config_path, out_dir), SGX_ERR_IO (the
 * config cannot be read, out_dir or its files cannot be written),
 * SGX_ERR_FORMAT (invalid YAML, a config beyond the bounds above, or one
 * that does not fit the schema: the message names the key, e.g.
 * "meta_config.num_generations"),
 * SGX_ERR_INVALID_ARGUMENT (generations or workers < 0, out_dir holds
 * another config's run or a state that is not ours), SGX_STOPPED.
 */
int32_t sgx_metalearn(const char *config_path, const char *out_dir, int32_t generations, int32_t workers,
                      sgx_progress_fn callback, void *user, int32_t *out_completed);

/**
 * The inner-loop algorithms of the config file (its inner_loop_algorithm,
 * in order): *out_count receives their number (may be NULL), and
 * `out_names` (`size` bytes, may be NULL when size == 0) their names
 * comma-separated and NUL-terminated, e.g. "ppo,sac,dqn". The config is
 * checked in full, as by sgx_metalearn (bounds included).
 * Errors: those of sgx_metalearn for the config; SGX_ERR_INVALID_ARGUMENT
 * if the names do not fit in `size` bytes (nothing is written to out_names).
 */
int32_t sgx_meta_config_algorithms(const char *config_path, char *out_names, int32_t size, int32_t *out_count);

/**
 * The paper's evaluation of a synthetic environment (its tables): for each
 * algorithm, `runs` >= 1 inner-loop runs, each with hyperparameters sampled
 * from the config's inner_config lists, trained on the checkpoint's
 * synthetic environment (the config's total_timesteps), and evaluated on
 * the real environment (the checkpoint's env_id, with the config's
 * synth_env_kwargs.eval_env_kwargs) for `episodes` episodes with
 * deterministic actions (0: the config's eval_config.num_eval_envs). Run i
 * of the a-th algorithm uses the key split(fold_in(PRNGKey(seed), a), runs)[i].
 *   checkpoint_path  a synthetic-environment checkpoint
 *   config_path      a meta-training config; its env_name must be the
 *                    checkpoint's real environment
 *   algorithms       comma-separated names, e.g. "ppo,sac,dqn"; NULL for
 *                    the config's inner_loop_algorithm
 *   workers          threads (0: all cores)
 *   callback, user   progress (SGX_PHASE_EVALUATION), NULL for none; a
 *                    nonzero return stops the evaluation: SGX_STOPPED,
 *                    nothing written
 *   out_returns      returns_size >= algorithms * runs floats: run i of
 *                    algorithm a at [a * runs + i], its mean return on the
 *                    real environment (NaN for a run that failed, e.g. an
 *                    agent that diverged)
 *   out_iqm          iqm_size >= algorithms floats (may be NULL when
 *                    iqm_size == 0): each algorithm's interquartile mean of
 *                    its finite returns (scipy's trim_mean(x, 0.25); NaN
 *                    when every run failed)
 * The checkpoint and the config are checked as by
 * sgx_env_create_from_checkpoint and sgx_metalearn.
 * Errors: SGX_ERR_NULL_POINTER, SGX_ERR_IO and SGX_ERR_FORMAT (the
 * checkpoint or the config), SGX_ERR_INVALID_ARGUMENT (an unknown
 * algorithm, one the config has no inner_config for or that cannot act in
 * the real environment, runs < 1 or > SGX_MAX_RUNS, episodes > SGX_MAX_VEC_ENVS,
 * episodes, workers < 0, a buffer too small, a config of another
 * environment), SGX_STOPPED.
 */
int32_t sgx_evaluate_transfer(const char *checkpoint_path, const char *config_path, const char *algorithms,
                              int32_t runs, int32_t episodes, int64_t seed, int32_t workers,
                              sgx_progress_fn callback, void *user, float *out_returns, int32_t returns_size,
                              float *out_iqm, int32_t iqm_size);

/**
 * The hyperparameters each run of sgx_evaluate_transfer samples, without
 * training: a pure function of the config's inner_config lists,
 * `algorithms` (as for sgx_evaluate_transfer; NULL: the config's
 * inner_loop_algorithm), `runs` and `seed`. `out_json` (`size` bytes, may
 * be NULL when size == 0) receives NUL-terminated JSON, one list per
 * algorithm of one object per run, names to values as strings, e.g.
 * {"ppo": [{"clip_eps": "0.2", "learning_rate": "0.001", ...}, ...]};
 * *out_length (may be NULL) the bytes it takes, the NUL included (call
 * with size 0 first to learn it).
 * Errors: those of sgx_evaluate_transfer for the config, the algorithms and
 * `runs`; SGX_ERR_INVALID_ARGUMENT if the JSON does not fit in `size` bytes
 * (nothing is written to out_json) or size < 0; SGX_ERR_NULL_POINTER
 * (config_path; out_json with size > 0).
 */
int32_t sgx_transfer_hyperparameters(const char *config_path, const char *algorithms, int32_t runs, int64_t seed,
                                     char *out_json, int32_t size, int32_t *out_length);

/* ------------------------------------------------------------------------ */
/* Task execution: inner-loop runs on other processes or machines           */
/* ------------------------------------------------------------------------ */

/*
 * sgx_metalearn and sgx_evaluate_transfer are made of inner-loop runs
 * ("tasks"): each samples an algorithm's hyperparameters, trains it on one
 * synthetic environment with one key, and evaluates it on the real
 * environment. A task's outcome (mean return and length, or a failure) is
 * a pure function of the task and of its run's context (the config; for an
 * evaluation also the checkpoint and the episode count). By default the
 * library runs the tasks on its own threads. An executor runs them
 * elsewhere (other processes, other machines: the Python package's Ray
 * backend) while the loop (ask, tell, log, files, resume) stays in the
 * library, so that log.csv (but its time column), state.json, the
 * checkpoints and the returns equal a local run's whatever runs the tasks
 * and in whatever order they finish.
 *
 * The context and each task are byte strings in the library's own format
 * (versioned; a library of another version refuses them with
 * SGX_ERR_FORMAT). An executor copies them as they are to its workers,
 * where sgx_task_runner_create takes the context (once per worker and
 * run) and sgx_task_runner_run a task, writing the outcome's bytes, which
 * the executor hands back with sgx_task_batch_set_outcome. Nothing in them
 * is a pointer: they can cross processes and machines.
 *
 * Sizes: a context holds the config (at most SGX_MAX_CONFIG_BYTES) and, for
 * an evaluation, the checkpoint file (at most SGX_MAX_FILE_BYTES); a task
 * holds one parameter vector of the synthetic environment (4 bytes a
 * parameter) or none; an outcome is at most SGX_MAX_OUTCOME_BYTES.
 */

/** Bytes an outcome can take (a failure's message is cut to fit). */
#define SGX_MAX_OUTCOME_BYTES 4096

/** The tasks of one phase, given to an executor; valid during its call only. */
typedef struct sgx_task_batch sgx_task_batch;

/**
 * An executor: runs every task of `batch` and gives each outcome with
 * sgx_task_batch_set_outcome, then returns SGX_OK. It is called on the
 * thread that called sgx_metalearn_with_executor or
 * sgx_evaluate_transfer_with_executor, once per phase: a meta-training
 * generation has one population phase (two with successive halving: the
 * members' first rollout, then the others of the members kept) and, every
 * mean_eval_freq generations, a phase for the search mean; an evaluation
 * has one. It may run the tasks in any order, in parallel, and more than
 * once (a retry after a lost worker): the last outcome set for a task
 * counts. It should call sgx_task_batch_report as outcomes come in, which
 * forwards the progress to the caller's progress callback (calling it
 * again with the same count is fine: an executor waiting for slow tasks
 * can call it every fraction of a second, so that a stop is noticed).
 * Returns: SGX_OK when every outcome is set (a batch with an outcome
 * missing ends the run with SGX_ERR_INTERNAL naming the task); SGX_STOPPED
 * when sgx_task_batch_report returned SGX_STOPPED (the run stops as when
 * its progress callback stops it: the generation in progress is dropped,
 * the completed ones are kept); any other status ends the run with that
 * status (SGX_ERR_INTERNAL for a value that is no SGX_* code) and the
 * message given to sgx_task_batch_fail, the completed generations kept.
 */
typedef int32_t (*sgx_executor_fn)(sgx_task_batch *batch, void *user);

/** The run's context: *out_bytes (owned by the batch) and its size. */
int32_t sgx_task_batch_context(const sgx_task_batch *batch, const uint8_t **out_bytes, int64_t *out_size);

/** The number of tasks in the batch (>= 1), or a negative status. */
int32_t sgx_task_batch_count(const sgx_task_batch *batch);

/** Task `index` (0 <= index < count): *out_bytes (owned by the batch) and its size. */
int32_t sgx_task_batch_task(const sgx_task_batch *batch, int32_t index, const uint8_t **out_bytes,
                            int64_t *out_size);

/**
 * Sets task `index`'s outcome from the bytes sgx_task_runner_run wrote
 * for it (copied; checked: SGX_ERR_FORMAT for bytes that are not an
 * outcome). Any thread may call it, one call at a time per batch.
 */
int32_t sgx_task_batch_set_outcome(sgx_task_batch *batch, int32_t index, const uint8_t *bytes, int64_t size);

/**
 * Reports that `done` tasks of the batch are finished; forwards it to the
 * run's progress callback (its runs_done). Returns SGX_OK to go on, or
 * SGX_STOPPED when the callback asked to stop (the executor should then
 * stop and return SGX_STOPPED). Call it on the executor's calling thread.
 */
int32_t sgx_task_batch_report(sgx_task_batch *batch, int32_t done);

/**
 * Records why the executor failed (copied); the run's error message (read
 * with sgx_last_error after the run returns) names it. Then return a status.
 */
int32_t sgx_task_batch_fail(sgx_task_batch *batch, const char *message);

/**
 * sgx_metalearn with the inner-loop runs given to `executor` (with
 * `executor_user`) instead of the library's threads (`workers` is then
 * unused). Files, resume, progress and errors as sgx_metalearn; the files
 * equal sgx_metalearn's but for log.csv's time column. An executor status
 * other than SGX_OK and SGX_STOPPED ends the call with that status;
 * `out_completed` then receives the generations complete in out_dir too
 * (those before the failed one, all saved).
 */
int32_t sgx_metalearn_with_executor(const char *config_path, const char *out_dir, int32_t generations,
                                    sgx_progress_fn callback, void *user, sgx_executor_fn executor,
                                    void *executor_user, int32_t *out_completed);

/**
 * sgx_evaluate_transfer with the runs given to `executor`: the same
 * returns and IQMs as sgx_evaluate_transfer.
 */
int32_t sgx_evaluate_transfer_with_executor(const char *checkpoint_path, const char *config_path,
                                            const char *algorithms, int32_t runs, int32_t episodes, int64_t seed,
                                            sgx_progress_fn callback, void *user, sgx_executor_fn executor,
                                            void *executor_user, float *out_returns, int32_t returns_size,
                                            float *out_iqm, int32_t iqm_size);

/** A worker's side: runs the tasks of one context. */
typedef struct sgx_task_runner sgx_task_runner;

/**
 * A runner for the context `bytes` (from sgx_task_batch_context). It parses
 * and checks the config (and the checkpoint) once, as sgx_metalearn does.
 * Free with sgx_task_runner_free.
 * Errors: SGX_ERR_NULL_POINTER, SGX_ERR_INVALID_ARGUMENT (size < 0),
 * SGX_ERR_FORMAT (bytes that are no context of this library version, a
 * config or checkpoint that is refused: the message names the key).
 */
int32_t sgx_task_runner_create(const uint8_t *bytes, int64_t size, sgx_task_runner **out_runner);

/**
 * Runs task `bytes` (from sgx_task_batch_task) on the calling thread and
 * writes its outcome to `out_outcome` (`capacity` bytes;
 * SGX_MAX_OUTCOME_BYTES always suffice) and its size to *out_size. Several
 * threads may run tasks on one runner at once. A run that fails (an agent
 * that diverges) is an outcome, not an error.
 * Errors: SGX_ERR_NULL_POINTER, SGX_ERR_FORMAT (bytes that are no task of
 * this context: another vector size, an algorithm the context lacks),
 * SGX_ERR_INVALID_ARGUMENT (size or capacity too small).
 */
int32_t sgx_task_runner_run(const sgx_task_runner *runner, const uint8_t *bytes, int64_t size,
                            uint8_t *out_outcome, int64_t capacity, int64_t *out_size);

/** Frees a runner (NULL is ignored). */
void sgx_task_runner_free(sgx_task_runner *runner);

#ifdef __cplusplus
}
#endif

#endif /* SYNTHETIC_GYMNAX_H */
