"""Train the model with a SageMaker training job (the deck's build step 2).

Usage: python3 source/train.py <SageMakerRoleArn> <DataBucket> <StackName> <CommitId>
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cdlab.steps import training


def hyperparameter(text: str) -> tuple[str, str]:
    try:
        return training.parse_hyperparameter(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Run a Factorization Machines training job on the channels predata.py "
        "wrote, then write the deploy parameters into the CloudFormation configuration files.",
        epilog=f"Hyperparameters: the recommended ones, then {training.HYPERPARAMETERS_FILE} if "
        f'the commit has one (a JSON object, e.g. {{"epochs": "20"}}), then the JSON object '
        f"in ${training.HYPERPARAMETERS_ENV}, then -p.",
    )
    parser.add_argument("role", metavar="SageMakerRoleArn")
    parser.add_argument("bucket", metavar="DataBucket")
    parser.add_argument("stack", metavar="StackName", help="the pipeline's stack name")
    parser.add_argument("commit", metavar="CommitId", help="the source revision being built")
    parser.add_argument(
        "--hyperparameter",
        "-p",
        type=hyperparameter,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a hyperparameter (repeatable), e.g. -p linear_lr=1000000 for a bad model",
    )
    parser.add_argument(
        "--config-dir",
        type=Path,
        default=Path("cloudformation"),
        help="where configuration_qa.json and configuration_prod.json are (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    try:
        training.run(
            args.role,
            args.bucket,
            args.stack,
            args.commit,
            Path.cwd(),
            args.config_dir,
            dict(args.hyperparameter),
        )
    except (training.TrainingFailed, FileNotFoundError, ValueError) as e:
        print(f"train: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
