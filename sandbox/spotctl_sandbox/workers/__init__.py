"""The sandbox's background workers: BullMQ jobs, RabbitMQ consumers, the Kafka analytics group.

Run them all with `python -m spotctl_sandbox.workers`; see runner.py for the process layout and
spotctl_sandbox.contract for the queue, exchange and topic names shared with the API.
"""
