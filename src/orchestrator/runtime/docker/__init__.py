"""The Docker runtime: containers on one bridge network, through the Docker SDK."""
