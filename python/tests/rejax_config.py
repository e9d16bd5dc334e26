"""The rejax PPO configuration shared by test_rejax.py and bench/bench_rejax.py.

inner_config.ppo of the upstream cartpole.yaml; where it gives a list, the
value chosen from it is shown with the list (learning_rate 0.001: with 0.005
about one seed in ten ends below 500 on the real CartPole, for ours and the
original alike).
"""

CONFIG = dict(
    agent_kwargs={"activation": "tanh"},
    num_envs=5,
    num_steps=100,
    num_epochs=10,
    num_minibatches=10,
    max_grad_norm=10,
    total_timesteps=10_000,
    eval_freq=10_000,
    learning_rate=0.001,  # [0.01, 0.005, 0.001, 0.0005, 0.0001]
    clip_eps=0.2,  # [0.1, 0.2, 0.3, 0.4, 0.5]
    ent_coef=0.01,  # [0.0, 0.01, 0.05, 0.1, 0.5]
    gae_lambda=0.95,  # [1.0, 0.95, 0.9, 0.8, 0.5]
    gamma=0.99,  # [1.0, 0.99, 0.95, 0.9, 0.8]
    vf_coef=0.5,  # [0.0, 0.5, 1.0, 1.5, 2.0]
)
