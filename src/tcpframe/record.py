"""``python -m tcpframe.record``: record a TCP session (`tcpframe.recording.record`)."""

from .recording.record import main

if __name__ == "__main__":
    main()
