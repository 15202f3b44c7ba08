"""First 40 training chunks of PTB large: chunk cost, gradient norm, and the
Valid graph's cost on one valid chunk, for keep_prob 0.35 and 1.0."""
import dataclasses, json, sys
sys.path.insert(0, "/work/main")
import numpy as np
from common.tf_compat import tf, tf1
from ptb import configs, model as model_lib, reader

keep = float(sys.argv[1]); lr = float(sys.argv[2]); steps = int(sys.argv[3])
cfg = dataclasses.replace(configs.CONFIGS.get("large"), keep_prob=keep,
                          learning_rate=lr)
data = reader.ptb_raw_data("/work/shared/data/ptb")
train = data.train if hasattr(data, "train") else data[0]
valid = data.valid if hasattr(data, "valid") else data[1]
g = tf.Graph()
with g.as_default():
  tf1.set_random_seed(1234)
  m = model_lib.build_models(cfg, configs.eval_config(cfg), dropout_seed=1234)
  t = m.train
  norm = tf.linalg.global_norm(tf.gradients(t.cost, tf1.trainable_variables()))
  s = tf1.Session(graph=g)
  s.run(tf1.global_variables_initializer())
  t.assign_lr(s, cfg.learning_rate)
  state = s.run(t.initial_state)
  vx, vy = next(iter(reader.ptb_iterator(valid, cfg.batch_size, cfg.num_steps)))
  out = []
  for step, (x, y) in enumerate(reader.ptb_iterator(train, cfg.batch_size, cfg.num_steps)):
    if step == steps: break
    feed = {t.input_data: x, t.targets: y}
    feed.update(model_lib.state_feed(t.initial_state, state))
    cost, n, state, _ = s.run([t.cost, norm, t.final_state, t.train_op], feed)
    vfeed = {m.valid.input_data: vx, m.valid.targets: vy}
    vcost = s.run(m.valid.cost, vfeed)
    out.append((step, round(float(np.exp(cost / cfg.num_steps)), 1), round(float(n), 2),
                round(float(np.exp(vcost / cfg.num_steps)), 1)))
    print(out[-1], flush=True)
print(json.dumps({"keep_prob": keep, "lr": lr, "rows": out}))
