"""Photo search: image checks, the image encoder and attribute probes, the photo index."""
