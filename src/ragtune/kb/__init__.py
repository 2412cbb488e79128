"""The knowledge base: loaders, chunking, the SQLite store and its versions."""
