"""Rule effective_config: the validated config of every experiment, defaults filled, as run."""

import yaml

from lrtraj import atomic
from lrtraj.provenance import write_sidecar
from lrtraj.runtime import job

smk = snakemake  # noqa: F821 (injected by Snakemake)
with job(smk) as ctx:
    text = yaml.safe_dump(ctx.params["experiments"], sort_keys=False)
    atomic.write_text(smk.output[0], "# effective configuration per experiment\n" + text)
    write_sidecar(smk.output[0], ctx.provenance())
