# Masked EEG modelling: one transformer encoder per size and scope on the pooled train parts of
# `pretrain.datasets`. `finetune` of a model that starts from pretrained weights (`labram_pt`, or `labram` with
# init: pretrained and no pretrained_path) takes results/pretrain/{labram.size}/{scope}/ as input: scope `all`
# (one encoder for every run), or `{ds}-fold{k}` for a k-folded pool member `ds` (one encoder per fold, pretrained
# without fold k's test subjects: common.smk pretrain_scope).


rule pretrain:
    input:
        h5=expand("results/{ds}/windows.h5", ds=PRETRAIN_DATASETS),
        split=lambda wc: pool_split_files(wc.scope),
    output:
        weights="results/pretrain/{size}/{scope}/model.safetensors",
        arch="results/pretrain/{size}/{scope}/arch.json",
        history="results/pretrain/{size}/{scope}/history.json",
    params:
        datasets=PRETRAIN_DATASETS,
        model_cfg=flat({k: config["labram"][k] for k in ("patch_size", "input_norm")}),
        settings=flat(pretrain_settings()),
        channels=flat(PRETRAIN["channels"]),
        seed=config["pretrain"]["seed"],
    log:
        "logs/pretrain/{size}/{scope}.log",
    benchmark:
        "logs/benchmarks/pretrain/{size}/{scope}.tsv"
    priority: 30  # the longest chain (pretrain, finetune, its grid) starts first
    threads: 2
    resources:
        mem_mb=8000,
        gpu=1,  # SLURM profiles: --gpus=1; a local run ignores it (see README)
        runtime=600,
    conda:
        ENV
    script:
        "../../scripts/pretrain.py"
