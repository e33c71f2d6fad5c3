"""Assignment 4's test cases (see tests/notebooks/test_roundtrip.py).

WRONG: an answer for every question that scores zero for every student. NEAR_MISSES: the typical
mistake for each quantitative question (and for the manifest tasks), computed from the student's own
inputs, which the question's tolerance or checks must reject.
"""

_POD_WRONG_NAME = '''q13 = """
apiVersion: v1
kind: Pod
metadata:
  name: trainer
spec:
  containers:
    - name: train
      image: img
      resources:
        limits:
          nvidia.com/gpus: 8
"""'''

_CQ_V1BETA1 = '''q14 = """
apiVersion: kueue.x-k8s.io/v1beta1
kind: ClusterQueue
metadata:
  name: vision
spec:
  namespaceSelector: {}
  cohort: research
  resourceGroups:
    - coveredResources: ["cpu", "nvidia.com/gpu"]
      flavors:
        - name: h100
          resources:
            - {name: cpu, nominalQuota: 512}
            - {name: nvidia.com/gpu, nominalQuota: 64, borrowingLimit: 32}
"""'''

_SBATCH_ONE_TASK = '''q15 = """#!/bin/bash
#SBATCH --partition=gpu
#SBATCH --nodes=4
#SBATCH --ntasks-per-node=8
#SBATCH --gres=gpu:8

srun --ntasks=1 python train.py
"""'''

_JOB_NO_POLICY = '''q16 = """
apiVersion: batch/v1
kind: Job
metadata:
  name: sweep
spec:
  backoffLimit: 4
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: trainer
          image: img
          resources:
            limits:
              nvidia.com/gpu: 8
"""'''

WRONG = {
    "q1": 'q1 = q1_mc.letter_of("gpu: 0.14")',
    "q2": 'q2 = q2_mc.letter_of("Topology Manager")',
    "q3": ("q3 = q3_mc.letter_of(*[t for t, tol in q3_options.items() "
           "if not manifests.tolerates(tol, manifests.Taint.parse(q3_taint))])"),
    "q4": ("q4 = q4_mc.letter_of(*[p for p in scheduler.TOPOLOGY_POLICIES "
           "if not scheduler.numa_admits(p, q4_request, [4, 4], [q4_free0, q4_free1])])"),
    "q5": "q5 = sum(q5_free)",
    "q6": "q6 = 1.5",
    "q7": "q7 = 10_000",
    "q8": "q8 = 10_000",
    "q9": "q9 = 8 * q9_nodes + 8",  # more GPUs than the cluster has
    "q10": "q10 = 100_000",
    "q11": "q11 = 0.001",
    "q12": "q12 = 0",
    "q13": _POD_WRONG_NAME,
    "q14": _CQ_V1BETA1,
    "q15": _SBATCH_ONE_TASK,
    "q16": _JOB_NO_POLICY,
    "q17": "def qos_class(pod):\n    return 'Burstable'",
    "q18": "def gpus_requested(text):\n    return 0",
}

# The right pod, with its GPUs split over two containers (or, for a 1-GPU pod, left Burstable).
_POD_SPLIT = '''_key, _rest = q13_taint.split("=")
_value, _effect = _rest.split(":")
_half = q13_gpus // 2 if q13_gpus > 1 else 1
_cpu_limit = f'cpu: "{q13_cpus}"' if q13_gpus > 1 else ""
_second = f"""
    - name: helper
      image: img
      resources:
        requests: {{cpu: "1", memory: 1Gi, nvidia.com/gpu: {_half}}}
        limits: {{cpu: "1", memory: 1Gi, nvidia.com/gpu: {_half}}}""" if q13_gpus > 1 else ""
q13 = f"""
apiVersion: v1
kind: Pod
metadata:
  name: trainer
spec:
  tolerations:
    - {{key: {_key}, operator: Equal, value: {_value}, effect: {_effect}}}
  containers:
    - name: train
      image: img
      resources:
        requests: {{cpu: "{q13_cpus}", memory: {q13_memory_gi}Gi, nvidia.com/gpu: {_half}}}
        limits: {{{_cpu_limit + ", " if _cpu_limit else ""}memory: {q13_memory_gi}Gi, nvidia.com/gpu: {_half}}}
      volumeMounts:
        - {{name: dshm, mountPath: /dev/shm}}{_second}
  volumes:
    - name: dshm
      emptyDir: {{medium: Memory, sizeLimit: {q13_shm_gi}Gi}}
"""'''

# The right ClusterQueue with the other reclaim rule.
_CQ_FLIPPED = '''q14 = f"""
apiVersion: kueue.x-k8s.io/v1beta2
kind: ClusterQueue
metadata:
  name: {q14_name}
spec:
  namespaceSelector: {{}}
  cohortName: {q14_cohort}
  preemption:
    reclaimWithinCohort: {"LowerPriority" if q14_rule.startswith("workloads of any") else "Any"}
  resourceGroups:
    - coveredResources: ["cpu", "nvidia.com/gpu"]
      flavors:
        - name: {q14_flavor}
          resources:
            - {{name: cpu, nominalQuota: {q14_cpus}}}
            - {{name: nvidia.com/gpu, nominalQuota: {q14_gpus}, borrowingLimit: {q14_borrow}}}
"""'''

# One task per GPU, but each task runs torchrun with a worker per GPU: GPUs x GPUs processes a node.
_SBATCH_TORCHRUN = '''q15 = f"""#!/bin/bash
#SBATCH --partition={q15_partition}
#SBATCH --nodes={q15_nodes}
#SBATCH --ntasks-per-node={q15_gpus}
#SBATCH --gpus-per-node={q15_gpus}

srun torchrun --nproc-per-node={q15_gpus} {q15_script}
"""'''

# Everything right, but the grace period only equals the checkpoint time.
_JOB_SHORT_GRACE = '''q16 = f"""
apiVersion: batch/v1
kind: Job
metadata:
  name: sweep
spec:
  backoffLimit: {q16_backoff}
  podFailurePolicy:
    rules:
      - {{action: Ignore, onPodConditions: [{{type: DisruptionTarget}}]}}
      - {{action: FailJob, onExitCodes: {{operator: In, values: [{q16_exit}]}}}}
  template:
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: {q16_checkpoint_s}
      containers:
        - name: trainer
          image: img
          resources:
            limits:
              nvidia.com/gpu: {q16_gpus}
"""'''

NEAR_MISSES = {
    # pods may not span nodes: dividing the total free GPUs by the pod size counts pods that do not fit
    "q5": "q5 = sum(q5_free) // q5_pod",
    # stranded GPUs as a share of all the cluster's GPUs instead of the free ones
    "q6": "q6 = sum(v % q6_pod for v in q6_free) / (8 * len(q6_free))",
    # speech's own headroom, forgetting that vision has borrowed from the cohort's pool
    "q7": 'q7 = q7_cohort["speech"]["nominal"] - q7_cohort["speech"]["usage"]',
    # the GPU quota alone, forgetting that the CPU quota runs out first
    "q8": "q8 = (q8_gpu_quota - 8 * q8_big - 2 * q8_small) // 4",
    # every allocated GPU, forgetting the job whose pods were all placed (it runs)
    "q9": "q9 = q9_pod_gpus * min(q9_nodes * (8 // q9_pod_gpus), q9_jobs * q9_pods)",
    # the dominant share without dividing by the queue's weight
    "q10": ("q10 = math.ceil(1000 * max((q10_usage[r] - q10_nominal['robotics'][r]) / "
            "sum(q[r] for q in q10_nominal.values()) for r in q10_usage))"),
    # one batch per worker, forgetting prefetch_factor
    "q11": "q11 = q11_gpus * q11_workers * q11_batch_mib / 1024",
    # the backoff without its cap (backoffMaxSeconds)
    "q12": ("q12 = ((q12_limit + 1) * q12_timeout_min * 60 + "
            "sum(q12_base_s * 2 ** (n - 1) for n in range(1, q12_limit + 1))) / 60"),
    "q13": _POD_SPLIT,
    "q14": _CQ_FLIPPED,
    "q15": _SBATCH_TORCHRUN,
    "q16": _JOB_SHORT_GRACE,
}

QUANTITATIVE = ("q5", "q6", "q7", "q8", "q9", "q10", "q11", "q12")
