"""Sans-I/O cores: pure classes that decide, tested without sockets, Redis or a database."""
