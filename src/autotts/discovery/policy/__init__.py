"""The Beta-policy search: a stochastic controller family trained by a gradient estimator.

* :mod:`.plain`: the controller the policy exports (public API only);
* :mod:`.family`: the Beta policy, its log-probabilities and their gradients;
* :mod:`.rollout`: many episodes at once, sampled or as the exported controller plays;
* :mod:`.search`: the search episodes, the reward, REINFORCE and the TPE / CMA-ES
  comparison at the same number of episode evaluations, and the selection rule;
* :mod:`.export`: a trained policy as an in-process controller or a controller file;
* :mod:`.heldout`: held-out curves and paired intervals against CMC.

Depends on ``env``, ``controllers``, ``data`` and ``evaluation``; nothing there depends on it.
"""
