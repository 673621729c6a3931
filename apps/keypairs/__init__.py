"""Key pairs: users' SSH public keys (and x509 certificates), Nova's os-keypairs."""
