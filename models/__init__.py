"""The tagger network, decoding, save and load, inference."""
