# On a cluster (--executor submitit/slurm), the light rules run on the controller: figures,
# tables, summaries, claims, the effective config and the quadratic model. Light = every rule
# that asks for no CPUs or GPUs of its own; the training and probe rules carry TRAIN_RESOURCES
# or PROBE_RESOURCES, which always name cpus_per_task. Found from the rules, not listed, so new
# light rules follow.
# (The `localrules:` directive takes only literal names; this is the call it compiles to.)
CLUSTER_RESOURCES = {
    "cpus_per_task",
    "cpus_per_gpu",
    "gpu",
    "gpus",
    "gpu_model",
    "gres",
}
workflow.localrules(
    *(r.name for r in workflow.rules if not CLUSTER_RESOURCES & set(r.resources))
)
