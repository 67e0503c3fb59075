-- Argo CD health check for KubarrInstance (kubarr.io).
-- Paste under resource.customizations.health.kubarr.io_KubarrInstance in argocd-cm.
hs = {status = "Progressing", message = "waiting for the operator"}
if obj.status ~= nil and obj.status.conditions ~= nil then
  if obj.status.observedGeneration ~= obj.metadata.generation then
    return hs
  end
  for _, c in ipairs(obj.status.conditions) do
    if c.type == "Stalled" and c.status == "True" then
      return {status = "Degraded", message = c.message}
    end
  end
  if obj.status.phase == "Hibernated" or obj.status.phase == "Suspended" then
    return {status = "Suspended", message = obj.status.phase}
  end
  for _, c in ipairs(obj.status.conditions) do
    if c.type == "Ready" and c.status == "True" then
      return {status = "Healthy", message = c.message}
    end
    if c.type == "Ready" and c.reason == "MigrationFailed" then
      return {status = "Degraded", message = c.message}
    end
  end
end
return hs
