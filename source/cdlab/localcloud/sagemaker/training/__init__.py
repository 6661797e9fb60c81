"""SageMaker training jobs: the algorithm an image names, run as a process in SageMaker's layout.

CreateTrainingJob copies each channel's S3 objects into ``<home>/training/<job>/input/data/``,
writes ``input/config/*.json`` and runs the image's trainer (:func:`images.training_module`) with
that directory as its ``/opt/ml``. Every line the trainer prints goes to CloudWatch Logs, and the
algorithm's metric definitions turn those lines into ``FinalMetricDataList``. The model dir is
tarred to ``<S3OutputPath>/<job>/output/model.tar.gz``; the copied input data is deleted when the
job ends, and the whole job dir when DeleteTrainingJob deletes the ended job (its model in S3 and
its log stream stay, as on AWS).

Modules, one job each: ``provider`` (the API operations and the checks of a request),
``records`` (job documents in the Store: statuses and SecondaryStatus transitions),
``supervisor`` (the trainer process: start, output, stop, restart, shutdown), ``staging``
(channels from S3 into the job dir, the model back to S3) and ``logs`` (the log stream and the
metrics read from it).
"""

from cdlab.localcloud.sagemaker.training.provider import Training

__all__ = ["Training"]
