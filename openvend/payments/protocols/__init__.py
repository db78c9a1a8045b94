"""Wire protocols (signing, verification, encryption) shared by our clients and the sandboxes. No Django."""
