"""Training: the config (:mod:`.config`), TRL's trainer (:mod:`.sft`), the tracked run (:mod:`.train`), run
folders, tracking, callbacks, sweeps and merging an adapter into a full checkpoint."""
