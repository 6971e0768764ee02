"""`spotctl purge`: one place for the destructive clean-ups ops need, each always confirmed.

Each subcommand shows what it will remove (the count), then asks, or needs --yes off a terminal.
"""

from __future__ import annotations

from typing import Annotated

import typer

from spotctl.commands._complete import BullQueue, RabbitQueue, Topic, rabbit_queues
from spotctl.output import OutputFormat, OutputOpt

YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Confirm without a prompt (needed off a terminal).")]
UrlOpt = Annotated[str | None, typer.Option("--url", help="Override the service URL.", show_default=False)]

app = typer.Typer(help="Purge a RabbitMQ queue or DLQ, a Kafka topic or a BullMQ queue (always confirmed).",
                  no_args_is_help=True)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="purge", help="Purge queues, dead letters, topics or job queues (always confirmed).")


@app.command("queue")
def queue_cmd(name: RabbitQueue, yes: YesOpt = False, url: UrlOpt = None,
              output: OutputOpt = OutputFormat.table) -> None:
    """Drop the ready messages of a RabbitMQ queue."""
    from spotctl.commands.rabbit import purge_queue

    purge_queue(name, yes, url, output)


@app.command("dlq")
def dlq_cmd(queue: Annotated[str, typer.Argument(help="The queue whose <queue>.dlq to empty (or the .dlq).",
                                                 autocompletion=rabbit_queues)],
            yes: YesOpt = False, url: UrlOpt = None, output: OutputOpt = OutputFormat.table) -> None:
    """Drop the dead letters of a RabbitMQ queue (see them first with `spotctl rabbit dlq QUEUE`)."""
    from spotctl.commands.rabbit import purge_queue
    from spotctl.inspect.rabbit_view import dlq_name

    purge_queue(dlq_name(queue), yes, url, output)


@app.command("topic")
def topic_cmd(name: Topic,
              recreate: Annotated[bool, typer.Option("--recreate", help="Delete and recreate the topic (for "
                                                     "brokers without DeleteRecords, like tansu).")] = False,
              yes: YesOpt = False, url: UrlOpt = None, output: OutputOpt = OutputFormat.table) -> None:
    """Remove every record of a Kafka topic."""
    from spotctl.commands.kafka import purge_topic

    purge_topic(name, yes, recreate, url, output)


@app.command("jobs")
def jobs_cmd(queue: BullQueue,
             obliterate: Annotated[bool, typer.Option("--obliterate", help="Remove every job in any state, "
                                                      "history included.")] = False,
             yes: YesOpt = False, url: UrlOpt = None, output: OutputOpt = OutputFormat.table) -> None:
    """Drain a BullMQ queue's waiting, prioritized and delayed jobs (or obliterate it)."""
    from spotctl.commands.jobs import purge_jobs

    purge_jobs(queue, obliterate, yes, url, output)
