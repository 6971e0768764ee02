"""Message handlers per feature (chat, notifications, listening sessions, playlists): the I/O edge."""
