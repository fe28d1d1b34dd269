"""Vector search backends (FAISS in-process, Milvus by URI) behind one interface."""
