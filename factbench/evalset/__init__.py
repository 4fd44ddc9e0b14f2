"""Many runs x tasks as one job: the manifest, its jobs, executors (local, Ray) and the set runner."""
