"""See README.md in this folder (command, machine, output)."""
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))
import dataclasses, resource, sys, time
from common.tf_compat import tf, tf1
from ptb import configs, model as model_lib
from common import session as session_lib
base = configs.CONFIGS.get("test")
for layers, steps in [(1,2),(2,2),(2,20),(4,20),(int(sys.argv[1]),35)]:
  cfg = dataclasses.replace(base, num_layers=layers, num_steps=steps)
  t=time.time()
  rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
  graph, models = session_lib.build_graph(lambda: model_lib.build_models(cfg, configs.eval_config(cfg), dropout_seed=0, rnn_mode="basic", precision="fp32"), 1, False)
  n = len(graph.get_operations()); size = graph.as_graph_def().ByteSize()
  rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
  print(layers, steps, n, size, "%.1fs" % (time.time()-t), "maxrss+%d MB" % ((rss1-rss0)//1024), flush=True)
