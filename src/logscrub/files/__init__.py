"""Files: reading plain, gzip or standard input, and following files like tail -F with saved positions."""
