"""Components of the RocketMQ Pulumi program: config -> plan -> resources -> outputs."""
