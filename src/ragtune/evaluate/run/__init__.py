"""The comparison run: which strategies run (:mod:`.strategy_set`), answering an eval set (:mod:`.runner`),
scoring the answers (:mod:`.scoring`), setup cost (:mod:`.setup`), the freshness probe, the learning curve, the
RAG settings sweep, and the whole comparison (:mod:`.compare`)."""
