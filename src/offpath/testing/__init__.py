"""Test your own tasks, routes and schedules against your own template.yaml.

:class:`OffpathStack` builds the template's resources on in-process moto and runs
its functions' handlers in the test's process, deterministically: nothing happens
until the test says so.

- ``stack.enqueue(task, *args, **kwargs)`` / ``stack.submit(JobRequest(...))``: send jobs,
  checked as every sender's are;
- ``stack.drain()``: every visible message, run by its pool's worker function;
- ``stack.advance(seconds)``: delays, backoffs, schedules and one-off schedules come due;
- ``stack.fire(name)``: one of the template's schedules, now;
- ``stack.job(job_id)``, ``stack.dead_letters()``: a job's record, the dead-letter queue;
- ``stack.request(method, path, json=...)``: the API function, as API Gateway calls it.

With pytest, the ``offpath_stack`` fixture gives each test a fresh stack built from
``template.yaml`` in the rootdir (the ``offpath_template`` ini option, or a fixture of
that name, says otherwise). Needs the ``dev`` extra (moto)::

    def test_an_image_is_resized(offpath_stack: OffpathStack) -> None:
        response = offpath_stack.request("POST", "/images", json={"image_id": "img-1"})
        offpath_stack.drain()
        assert offpath_stack.job(response.json()["job_id"]).status == "succeeded"

See docs/testing.md.
"""

from offpath.testing.functions import FunctionRunner, Invocation, InvocationError
from offpath.testing.stack import ApiResponse, OffpathStack

__all__ = ["ApiResponse", "FunctionRunner", "Invocation", "InvocationError", "OffpathStack"]
