"""Real-time code: socket outboxes, the live room hub, the audio relay and the caption worker."""
