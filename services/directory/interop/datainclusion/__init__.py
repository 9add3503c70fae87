"""data·inclusion v1 ⇄ Relais: pure mapping with row-by-row validation.

Input rows come from JSON (typed values), CSV (every value a string, lists comma-separated) or
the data·inclusion spreadsheet template (numbers and dates as Excel gives them); all three go
through the same normalisation. A row either maps completely to Relais columns or yields the
list of its errors (row, source id, field, value, reason): it is never applied in part.

Field correspondence (data·inclusion → Relais):

- structure: ``source``/``id`` → ``source``/``source_id``; ``nom`` → ``name``; ``siret``;
  ``description``; ``adresse``/``complement_adresse``/``code_postal``/``code_insee``/``commune``/
  ``latitude``/``longitude`` → address columns; ``telephone`` (stored E.164) → ``phone``;
  ``courriel`` → ``email``; ``site_web`` → ``website``; ``lien_source`` → ``source_url``;
  ``horaires_accueil`` → ``opening_hours``; ``accessibilite_lieu`` → ``accessibility_url``;
  ``reseaux_porteurs`` → ``networks``; ``date_maj`` → ``reviewed_at`` (the day the producer
  last updated the entry: its freshness follows that date, an import is not a verification and
  leaves ``verified_at`` alone; ``updated_at`` stays Relais' own change time, so
  ``updated_since`` synchronisation sees imported changes). Exports give ``reviewed_at`` back as
  ``date_maj``.
- service: as above for the address, plus ``structure_id`` (source id of its structure),
  ``nom``/``description``/``type``/``thematiques``/``frais``/``frais_precisions``/``publics``/
  ``publics_precisions``/``conditions_acces``; ``telephone``/``courriel``/``contact_nom_prenom``
  → ``contact_phone``/``contact_email``/``contact_name`` (also ``referral_phone``/
  ``referral_email`` when ``modes_mobilisation`` says to phone / e-mail); ``modes_accueil`` →
  ``reception_modes``; ``modes_mobilisation``/``mobilisable_par``/``lien_mobilisation``/
  ``mobilisation_precisions`` → ``referral_modes``/``referable_by``/``referral_url``/
  ``referral_details``; ``volume_horaire_hebdomadaire``/``nombre_semaines`` →
  ``weekly_hours``/``duration_weeks``; ``zone_eligibilite`` → zones (5 characters →
  ``commune:<insee>``, 9 digits → ``epci:<siren>``, 2–3 characters → ``departement:<code>``,
  ``france`` or ``99100`` → ``france``).

Modules: ``fields`` (the v1 fields, the Relais columns they map to, report rows),
``rows`` (reading one raw row field by field), ``parse`` (a row → Relais values, or its
errors), ``export`` (Relais rows → data·inclusion).
"""
