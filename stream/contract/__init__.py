"""The contract: the events in (structs, decoding, schemas) and the topics they go to."""
