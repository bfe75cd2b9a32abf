"""``python -m tcpframe.replay``: replay or inspect a recording (`tcpframe.recording.replay`)."""

from .recording.replay import main

if __name__ == "__main__":
    main()
