# One training loop for every deep model (eegslim.catalog names which rule trains which): `train` fits the EEGNet
# baseline, `finetune` the transformer (`labram` from its configured init, `labram_pt` from pretrained weights).


rule train:
    input:
        h5="results/{ds}/windows.h5",
        split=lambda wc: run_split(wc.ds, wc.run),
    output:
        **model_files("results/{ds}/{model}/baseline/{run}"),
    wildcard_constraints:
        model=alternation(models_where(rule="train")),
    params:
        model=lambda wc: wc.model,
        model_cfg=lambda wc: flat(config[wc.model]),
        train_cfg=flat(config["train"]),
    log:
        "logs/train/{ds}/{model}/{run}.log",
    benchmark:
        "logs/benchmarks/train/{ds}/{model}/{run}.tsv"
    priority: 10  # baselines before the grid
    threads: 1
    resources:
        mem_mb=4000,
        gpu=1,  # SLURM profiles: --gpus=1; a local run ignores it (see README)
        runtime=120,
    conda:
        ENV
    script:
        "../../scripts/train.py"


rule finetune:
    input:
        unpack(pretrained_input),
        h5="results/{ds}/windows.h5",
        split=lambda wc: run_split(wc.ds, wc.run),
    output:
        **model_files("results/{ds}/{model}/baseline/{run}"),
    wildcard_constraints:
        model=alternation(models_where(rule="finetune")),
    params:
        model=lambda wc: wc.model,
        model_cfg=lambda wc: flat(transformer_settings(wc.model)),
        train_cfg=flat(config["finetune"]),
    log:
        "logs/finetune/{ds}/{model}/{run}.log",
    benchmark:
        "logs/benchmarks/finetune/{ds}/{model}/{run}.tsv"
    priority: 20  # after pretrain, before the grid that waits on it
    threads: 1
    resources:
        mem_mb=8000,
        gpu=1,  # SLURM profiles: --gpus=1; a local run ignores it (see README)
        runtime=240,
    conda:
        ENV
    script:
        "../../scripts/train.py"
