# Masked EEG modelling: one transformer encoder per size on the pooled train parts of `pretrain.datasets`.
# `finetune` of a model that starts from pretrained weights (`labram_pt`, or `labram` with init: pretrained
# and no pretrained_path) takes results/pretrain/{labram.size}/ as input.


rule pretrain:
    input:
        h5=expand("results/{ds}/windows.h5", ds=PRETRAIN_DATASETS),
        split=expand("results/{ds}/splits.json", ds=PRETRAIN_DATASETS),
    output:
        weights="results/pretrain/{size}/model.safetensors",
        arch="results/pretrain/{size}/arch.json",
        history="results/pretrain/{size}/history.json",
    params:
        datasets=PRETRAIN_DATASETS,
        model_cfg=flat({k: config["labram"][k] for k in ("patch_size", "input_norm")}),
        settings=flat(pretrain_settings()),
        channels=flat(PRETRAIN["channels"]),
        seed=config["pretrain"]["seed"],
    log:
        "logs/pretrain/{size}.log",
    benchmark:
        "logs/benchmarks/pretrain/{size}.tsv"
    threads: 2
    resources:
        mem_mb=8000,
        gpu=1,  # SLURM profiles: --gpus=1; a local run ignores it (see README)
        runtime=600,
    conda:
        ENV
    script:
        "../../scripts/pretrain.py"
