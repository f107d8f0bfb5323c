"""sinoloc chat: threads, sessions, the stream of events and the terminal loop."""
