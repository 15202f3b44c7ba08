"""Session tool for the long PTB medium run: copies its record into
docs/results/ptb_medium/ and rewrites README's medium paragraph from it.

    python docs/results/ptb_medium_docs.py   # from the project root

Reads ~/runs/ptb_medium (the run directory) and ~/runs/ptb_medium.log (its
console log), and checks every finished epoch against the earlier starts'
records (ptb_medium_start3/, ptb_medium_start2/). The paragraph names this
start (the fourth: its date and commit): edit it when a run starts again.
Kept in the repository because ~/runs does not survive a machine change.
"""
import json, os, re, shutil, subprocess
RUN = os.path.expanduser("~/runs/ptb_medium")
DST = "docs/results/ptb_medium"
os.makedirs(DST, exist_ok=True)
for f in ("config.json", "metrics.json", "metrics.jsonl", "train_state.json"):
    shutil.copy(os.path.join(RUN, f), DST)
shutil.copy(os.path.expanduser("~/runs/ptb_medium.log"), os.path.join(DST, "train.log"))
hist = json.load(open(os.path.join(DST, "train_state.json")))["history"]
n = len(hist)
valids = ", ".join("%.3f" % e["valid_perplexity"] for e in hist)
def h(name):
    return json.load(open("docs/results/%s/train_state.json" % name))["history"]
def equal(old):
    return [a["epoch"] for a, b in zip(hist, old)
            if (a["train_perplexity"], a["valid_perplexity"]) == (b["train_perplexity"], b["valid_perplexity"])]
s3, s2 = equal(h("ptb_medium_start3")), equal(h("ptb_medium_start2"))
overlap3 = min(n, len(h("ptb_medium_start3")))
overlap2 = min(n, len(h("ptb_medium_start2")))
last = hist[-1]
rates = [int(e["train_words_per_sec"]) for e in hist]
para = f"""`medium` (39 epochs, keep_prob 0.5: the paper's regularized model) is **in progress, not
finished**, on the faithful path:

```sh
nohup python ptb/ptb_word_lm.py --model=medium --data_path=../shared/data/ptb \\
    --save_path=$HOME/runs/ptb_medium --seed=1234 > $HOME/runs/ptb_medium.log 2>&1 &
```

resumed by running the same command again (mid-epoch checkpoints every 600 s; the seed is kept
with the run). This is its fourth start (2026-12-05 23:41 UTC, commit `c975863`, an AMD EPYC
machine with AVX-512): the checkpoints of the first three were lost when their machines were
replaced between sessions (`~/runs` did not survive; checkpoints are not committed).
`docs/results/ptb_medium/` holds this start's log and metrics up to the moment of the commit:
**{n} of 39 epochs** finished, valid perplexity {valids} after epochs 1-{n} (lr {last['learning_rate']:.3f}
in epoch {n}); valid target (≤ 88.7) not reached yet, test not yet known. Every one of these epochs
equals, to the last digit of the record, the third start's (`docs/results/ptb_medium_start3/`, 11
epochs, valid 89.465 after epoch 11; epochs equal: {s3[0]}-{s3[-1]} of {overlap3}) and the second
start's (`docs/results/ptb_medium_start2/`, 12 epochs, valid 89.267 after epoch 12; equal:
{s2[0]}-{s2[-1]} of {overlap2}), each on another machine: the seed and the stateless dropout masks
repeat the run exactly, and the third start's epoch 3, resumed from a mid-epoch checkpoint in a new
session, showed the mid-epoch resume exact on the real run too. This start trained at
{min(rates):,}-{max(rates):,} words/s per epoch, sharing the two cores with this session's test
suites and audits (1,750 alone on the Intel Xeon of `bench/ptb_medium_basic_b95bedf.json`): 39
epochs need about 8.5 hours at {max(rates):,} words/s and 6.5 at 1,750, so three or more sessions
on one machine. Target: test ≤ 84.5, valid ≤ 88.7 (tutorial 82.07 / 86.16). A third
party's run of the current tutorial code (the schedule this port follows) ended at valid 89.658 /
test 85.718, above the target; the table itself is likely from the older schedule
(`docs/train_perplexity.md`).
"""
r = open("README.md").read()
start = r.index("`medium` (39 epochs, keep_prob 0.5")
end = r.index("`large`: one full epoch run")
r = r[:start] + para + "\n" + r[end:]
open("README.md", "w").write(r)
print(para)
