"""The parts of the `response-cache` policy: request keys, cached answers, stores (memory, Redis),
the stream recorder, the embedder and the vector indexes of the semantic cache."""
