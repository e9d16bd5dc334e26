"""Pieces of the small meta-training configs of test_metalearning.py and
test_ray_backend.py (upstream's YAML schema), written once."""


def ppo_inner_config(total_timesteps: int) -> str:
    """The `inner_config.ppo` block: a short PPO, two lists to sample from."""
    return f"""\
  ppo:
    agent_kwargs: {{activation: tanh}}
    num_envs: 5
    num_steps: 50
    num_epochs: 2
    num_minibatches: 5
    total_timesteps: {total_timesteps}
    learning_rate: [0.01, 0.005]
    gamma: [0.99, 0.95]
"""
