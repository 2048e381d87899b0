"""What production runs (nginx, systemd units, Prometheus) and the code that runs it locally."""
