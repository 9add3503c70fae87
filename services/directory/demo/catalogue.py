"""What each kind of structure offers in the demo territory: service templates, written in French.

A template is a service a structure of that kind typically offers, with a few wordings to vary
names and descriptions between sites (as real data does) and the data·inclusion codes that go
with it. ``{commune}`` and ``{structure}`` are filled in by the generator. The probability next to
a template says how often a structure of that kind offers it (1.0: always).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Opening hours presets (OpenStreetMap ``opening_hours`` syntax).
H_ADMIN = "Mo-Fr 08:30-12:00,13:30-17:00; PH off"
H_ADMIN_SHORT = "Mo-Th 09:00-12:00,14:00-17:00; Fr 09:00-12:00; PH off"
H_MAIRIE = "Mo-Fr 08:30-12:00; Mo,We 13:30-17:30; PH off"
H_FRANCE_SERVICES = "Mo-Fr 09:00-12:30,13:30-17:00; Sa 09:00-12:00; PH off"
H_RURAL = "Tu,Th 09:00-12:00,13:30-17:00; Fr 09:00-12:00; PH off"
H_CAISSE = "Mo-Fr 08:30-16:30; PH off"
H_ASSO = "Mo-Fr 09:00-12:00,14:00-17:30; PH off"
H_FOOD = "Tu,Fr 13:30-16:30; PH off"
H_FOOD_ALT = "Mo,Th 09:00-11:30; PH off"
H_EPN = "Tu-Sa 10:00-12:30,14:00-18:00; PH off"
H_PERMANENCE_1 = "Tu 14:00-17:00; PH off"
H_PERMANENCE_2 = "We[1,3] 09:00-12:00; PH off"
H_PERMANENCE_3 = "Th 09:00-12:00; PH off"
H_ALWAYS = "24/7"
H_SOINS = "Mo-Fr 09:00-17:00; PH off"
H_DAY_CENTRE = "Mo-Fr 08:00-12:30; Sa 09:00-12:00"


@dataclass(frozen=True)
class ServiceSpec:
    key: str
    names: tuple[str, ...]
    descriptions: tuple[str, ...]
    type: str
    thematiques: tuple[str, ...]
    publics: tuple[str, ...] = ("tous-publics",)
    publics_details: str | None = None
    fees: str = "gratuit"
    fees_details: str | None = None
    conditions: str | None = None
    documents: tuple[str, ...] = ()
    reception: tuple[str, ...] = ("en-presentiel",)
    mobilisation: tuple[str, ...] = ("se-presenter", "telephoner")
    mobilisable_par: tuple[str, ...] = ("usagers", "professionnels")
    mobilisation_details: str | None = None
    # commune | epci | departement | france
    zone: str = "commune"
    # None: unknown, True: by appointment only, False: walk-in possible.
    appointment: bool | None = None
    # None: the structure's hours; a string: the service's own hours.
    hours: str | None = None
    booking_url: str | None = None
    referral_url: str | None = None
    weekly_hours: float | None = None
    weeks: int | None = None
    # May be full / on a waiting list in the demo (housing places, workshops…).
    limited: bool = False
    response_days: int | None = None


def spec(
    key: str,
    names: str | tuple[str, ...],
    descriptions: str | tuple[str, ...],
    type: str,
    thematiques: tuple[str, ...],
    **kw: Any,
) -> ServiceSpec:
    """Shorthand for the tables below."""
    return ServiceSpec(key, _tuple(names), _tuple(descriptions), type, thematiques, **kw)


def _tuple(value: str | tuple[str, ...]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else value


# --- thematiques shorthands -------------------------------------------------------------------
ADM = "difficultes-administratives-ou-juridiques--accompagnement-aux-demarches-administratives"
DROITS = "difficultes-administratives-ou-juridiques--accompagnement-pour-lacces-aux-droits"
JUDICIAIRE = (
    "difficultes-administratives-ou-juridiques--prendre-en-compte-une-problematique-judiciaire"
)
DISCRIMINATION = (
    "difficultes-administratives-ou-juridiques--connaitre-ses-droits-face-a-une-discrimination"
)
CITOYENNETE = (
    "difficultes-administratives-ou-juridiques--accompagnement-pour-lacces-a-la-citoyennete"
)
MESURE = "difficultes-administratives-ou-juridiques--beneficier-dune-mesure-daccompagnement-adapte"
BUDGET = "difficultes-financieres--ameliorer-sa-gestion-budgetaire"
AUTONOMIE_BUDGET = "difficultes-financieres--acquerir-une-autonomie-budgetaire"
DETTE = "difficultes-financieres--situation-dendettement-surendettement"
PREVENIR = "difficultes-financieres--prevenir-une-degradation-de-la-situation-financiere"
PROTECTION = "difficultes-financieres--mettre-en-place-une-mesure-de-protection-financiere"
ALIM = "equipement-et-alimentation--alimentation"
HABILLEMENT = "equipement-et-alimentation--habillement"
ELECTROMENAGER = "equipement-et-alimentation--electromenager"
MENAGE = "equipement-et-alimentation--aide-menagere"
GARDE = "famille--garde-denfants"
DEPENDANCE = "famille--prise-en-charge-personne-dependante"
PARENTALITE = "famille--soutien-a-la-parentalite-et-a-leducation"
AIDANTS = "famille--soutien-aidants"
VIOLENCE = "famille--surmonter-conflits-separation-violence"
FRANCAIS = "lecture-ecriture-calcul--maitriser-le-francais"
HEBERGEMENT = "logement-hebergement--rechercher-une-solution-dhebergement-temporaire"
MAINTIEN = "logement-hebergement--se-maintenir-dans-le-logement"
IMPAYES = "logement-hebergement--reduire-les-impayes-de-loyer"
ACCES_LOGEMENT = "logement-hebergement--sinformer-sur-les-demarches-liees-a-lacces-au-logement"
LOUER = "logement-hebergement--louer-un-logement"
ACHETER = "logement-hebergement--acheter-un-logement"
CHANGER = "logement-hebergement--changer-de-logement"
PERMIS = "mobilite--preparer-un-permis"
VEHICULE = "mobilite--acceder-a-un-vehicule"
REPARER = "mobilite--entretenir-reparer-son-vehicule"
PARCOURS_MOBILITE = "mobilite--etre-accompagne-dans-son-parcours-mobilite"
FINANCER_MOBILITE = "mobilite--financer-ma-mobilite"
MOBILITE_DOUCE = "mobilite--mobilite-douce-partagee-collective"
EN_LIGNE = "numerique--acceder-a-des-services-en-ligne"
CONNEXION = "numerique--acceder-a-une-connexion-internet"
EQUIPEMENT = "numerique--acquerir-un-equipement"
FONDAMENTAUX = "numerique--maitriser-les-fondamentaux-du-numerique"
CV = "preparer-sa-candidature--realiser-un-cv-et-ou-une-lettre-de-motivation"
RECHERCHE_EMPLOI = "preparer-sa-candidature--organiser-ses-demarches-de-recherche-demploi"
VALORISER = "preparer-sa-candidature--valoriser-ses-competences"
OFFRES = "trouver-un-emploi--repondre-a-des-offres-demploi"
ENTRETIEN = "trouver-un-emploi--convaincre-un-recruteur-en-entretien"
MAINTIEN_EMPLOI = "trouver-un-emploi--maintien-dans-lemploi"
METIER = "choisir-un-metier--identifier-ses-points-forts-et-ses-competences"
OPPORTUNITES = "choisir-un-metier--connaitre-les-opportunites-demploi"
FORMATION = "se-former--trouver-sa-formation"
DOSSIER_FORMATION = "se-former--monter-son-dossier-de-formation"
LIEN_SOCIAL = "remobilisation--lien-social"
CONFIANCE = "remobilisation--bien-etre-confiance-en-soi"
BENEVOLAT = "remobilisation--benevolat-action-citoyenne"
LOISIRS = "remobilisation--activites-sportives-et-culturelles"
SOINS = "sante--acces-aux-soins"
ADDICTIONS = "sante--addictions"
MDPH = "sante--constituer-un-dossier-mdph-invalidite"
PSY = "sante--sante-mentale"
SEXUELLE = "sante--sante-sexuelle"
CREATION = "creer-une-entreprise--definir-son-projet-de-creation-dentreprise"

# --- documents to bring (pièces à fournir) ----------------------------------------------------
ID = "Pièce d’identité ou titre de séjour en cours de validité"
DOMICILE = "Justificatif de domicile de moins de 3 mois (ou attestation d’hébergement)"
RESSOURCES = "Justificatifs de ressources des 3 derniers mois (salaires, indemnités, prestations)"
CAF_NUM = "Numéro d’allocataire CAF et identifiants caf.fr si vous les avez"
VITALE = "Carte Vitale ou attestation de droits à l’assurance maladie"
AVIS_IMPOT = "Dernier avis d’imposition ou de non-imposition"
RIB = "Relevé d’identité bancaire (RIB)"
LIVRET = "Livret de famille"
QUITTANCE = "Dernière quittance de loyer ou bail"
FACTURES = "Dernières factures d’énergie (électricité, gaz) ou d’eau"
COURRIER = "Le courrier reçu ou le formulaire à remplir"
RELEVE_CARRIERE = "Relevé de carrière et bulletins de salaire anciens si possible"
CERTIFICAT_MEDICAL = "Certificat médical de moins d’un an (formulaire MDPH)"
IDENTIFIANTS = "Vos identifiants (adresse e-mail, mots de passe) et votre téléphone portable"
CV_DOC = "Votre CV s’il existe, même ancien"
DETTES = "Liste des dettes et courriers des créanciers"
ORDONNANCE = "Ordonnances et documents médicaux en votre possession"


@dataclass(frozen=True)
class Offer:
    spec: ServiceSpec
    probability: float = 1.0
    overrides: dict[str, object] = field(default_factory=dict)


# ==============================================================================================
# Service templates
# ==============================================================================================

DOMICILIATION = spec(
    "domiciliation",
    (
        "Domiciliation administrative",
        "Domiciliation des personnes sans domicile stable",
        "Élection de domicile (adresse postale)",
    ),
    (
        "Le CCAS délivre une attestation d’élection de domicile aux personnes sans domicile stable "
        "ayant un lien avec la commune. Cette adresse permet de recevoir son courrier et de faire "
        "valoir ses droits : RSA, CAF, assurance maladie, inscription à France Travail, ouverture "
        "d’un compte bancaire.",
        "Vous n’avez pas d’adresse fixe ? La domiciliation vous donne une adresse postale pour "
        "recevoir votre courrier et accéder à vos droits (prestations CAF, CSS, titre d’identité). "
        "Le courrier est à retirer sur place, au moins une fois par trimestre.",
    ),
    "accompagnement",
    (DROITS, ADM),
    publics=("personnes-en-situation-durgence",),
    publics_details="Personnes sans domicile stable ayant un lien avec la commune.",
    conditions="Avoir un lien avec la commune (séjour, travail, démarches, liens familiaux).",
    documents=(ID,),
    appointment=False,
)

AIDES_FACULTATIVES = spec(
    "aides-facultatives",
    (
        "Aides financières d’urgence du CCAS",
        "Secours d’urgence et aides facultatives",
        "Aide financière ponctuelle (CCAS)",
    ),
    (
        "Aides ponctuelles accordées après évaluation sociale : secours d’urgence, bons ou chèques "
        "alimentaires, participation aux factures d’énergie, aide au paiement de la cantine. "
        "La demande est instruite par un travailleur social du CCAS et examinée en commission.",
        "Pour faire face à une difficulté passagère : aide alimentaire d’urgence, aide à "
        "l’énergie, avance remboursable. Un rendez-vous avec un conseiller social permet d’étudier "
        "la situation et, si besoin, d’orienter vers d’autres aides (FSL, CAF, associations).",
    ),
    "aide-financiere",
    (PREVENIR, ALIM, BUDGET),
    conditions="Résider dans la commune. Ressources inférieures au barème du CCAS.",
    documents=(ID, DOMICILE, RESSOURCES, QUITTANCE),
    appointment=True,
    response_days=8,
)

ACCUEIL_SOCIAL_CCAS = spec(
    "accueil-social",
    (
        "Accueil social et orientation",
        "Premier accueil social inconditionnel",
        "Accueil, écoute et orientation sociale",
    ),
    (
        "Un travailleur social vous reçoit, fait le point sur votre situation et vous oriente vers "
        "le bon interlocuteur : CAF, CPAM, Département, associations. Accueil inconditionnel de "
        "proximité, sans condition de ressources.",
        "Accueil de toute personne en difficulté : écoute, information sur les droits (RSA, "
        "APL, prime d’activité, CSS), aide à la constitution des dossiers et orientation vers les "
        "partenaires compétents.",
    ),
    "accompagnement",
    (DROITS, ADM),
    appointment=False,
    response_days=5,
)

RSA_CCAS = spec(
    "rsa",
    ("Instruction des demandes de RSA", "Demande de RSA et accompagnement des bénéficiaires"),
    (
        "Le CCAS aide à faire la demande de revenu de solidarité active (RSA) et assure "
        "l’accompagnement social des bénéficiaires du RSA sans activité, en lien avec le "
        "Département de la Drôme.",
        "Aide à la demande de RSA (revenu de solidarité active) et suivi par un référent social : "
        "contrat d’engagement, accès aux droits, santé, logement.",
    ),
    "accompagnement",
    (DROITS, ADM),
    publics=("beneficiaires-des-minimas-sociaux",),
    documents=(ID, DOMICILE, RESSOURCES, CAF_NUM, RIB),
    appointment=True,
    response_days=10,
)

APA_AIDE_SOCIALE = spec(
    "aide-sociale-seniors",
    (
        "Dossiers d’aide sociale pour les seniors (APA, aide ménagère)",
        "Aide aux démarches des personnes âgées : APA, aide à domicile",
    ),
    (
        "Constitution des dossiers d’allocation personnalisée d’autonomie (APA), d’aide ménagère "
        "et d’aide sociale à l’hébergement en EHPAD. Information des proches aidants.",
    ),
    "accompagnement",
    (DEPENDANCE, AIDANTS, DROITS),
    publics=("seniors",),
    publics_details="Personnes de 60 ans et plus et leurs aidants.",
    documents=(ID, AVIS_IMPOT, RIB),
    appointment=True,
)

PORTAGE_REPAS = spec(
    "portage-repas",
    ("Portage de repas à domicile", "Repas livrés à domicile pour seniors"),
    (
        "Livraison de repas équilibrés à domicile, du lundi au vendredi, pour les personnes âgées "
        "ou handicapées qui ne peuvent plus cuisiner. Le passage du livreur est aussi un moment de "
        "lien et de veille.",
    ),
    "aide-materielle",
    (ALIM, DEPENDANCE, LIEN_SOCIAL),
    publics=("seniors", "personnes-en-situation-de-handicap"),
    fees="payant",
    fees_details="Tarif selon les ressources, de 4,50 € à 9 € le repas.",
    appointment=None,
    limited=True,
)

REGISTRE_ISOLEMENT = spec(
    "veille-isolement",
    (
        "Veille sociale des personnes isolées (registre canicule)",
        "Lutte contre l’isolement des seniors",
    ),
    (
        "Inscription sur le registre des personnes fragiles et isolées : appels réguliers pendant "
        "les épisodes de canicule ou de grand froid, visites de convivialité par des bénévoles.",
    ),
    "accompagnement",
    (LIEN_SOCIAL, DEPENDANCE),
    publics=("seniors", "personnes-en-situation-de-handicap"),
    mobilisation=("telephoner",),
)

ECRIVAIN_PUBLIC = spec(
    "ecrivain-public",
    (
        "Permanence d’écrivain public",
        "Écrivain public : aide à la rédaction de courriers",
        "Écrivain public – courriers et dossiers administratifs",
    ),
    (
        "Un écrivain public vous aide à lire, comprendre et rédiger vos courriers et formulaires "
        "administratifs : lettre de réclamation, recours, courrier au bailleur, dossier de "
        "surendettement, CV. Confidentialité garantie, sans jugement. Les démarches judiciaires, "
        "comptables ou notariales sont réorientées vers les professionnels compétents.",
        "Besoin d’aide pour écrire une lettre ou remplir un dossier ? L’écrivain public rédige "
        "avec vous courriers, formulaires CAF ou CPAM, réclamations et recours gracieux. La "
        "permanence fonctionne sur rendez-vous, avec un accueil sans rendez-vous en fin de séance "
        "selon les disponibilités.",
        "Aide à l’écrit pour les personnes qui ont des difficultés avec la lecture, l’écriture ou "
        "la langue française : rédaction de lettres, remplissage de formulaires, explication de "
        "courriers reçus. Gratuit et confidentiel.",
    ),
    "accompagnement",
    (ADM, FRANCAIS),
    documents=(COURRIER, ID),
    appointment=True,
    hours=H_PERMANENCE_1,
)

ACCUEIL_FRANCE_SERVICES = spec(
    "accueil",
    (
        "Accueil France Services : démarches administratives du quotidien",
        "France Services – aide aux démarches (CAF, CPAM, impôts, retraite, ANTS)",
        "Accompagnement aux démarches administratives France Services",
    ),
    (
        "Des agents formés vous accompagnent dans vos démarches auprès des partenaires France "
        "Services : CAF (allocations familiales, APL, prime d’activité), Assurance maladie (CPAM), "
        "Assurance retraite, MSA, France Travail, finances publiques (impôts), ANTS (carte grise, "
        "permis, carte d’identité), La Poste et ministère de la Justice.",
        "Un guichet unique de proximité pour être aidé dans ses démarches en ligne et papier : "
        "déclaration de revenus, demande de RSA ou d’APL, carte Vitale, retraite, permis de "
        "conduire, prime d’activité. Poste informatique en libre accès avec imprimante et scanner.",
        "Besoin d’aide pour une démarche administrative ? L’espace France Services vous reçoit "
        "avec ou sans rendez-vous pour vos démarches CAF, CPAM, impôts, retraite, emploi et "
        "justice, et vous met en relation avec le bon interlocuteur.",
    ),
    "accompagnement",
    (ADM, EN_LIGNE, DROITS),
    documents=(ID, IDENTIFIANTS, COURRIER),
    appointment=False,
)

DOSSIER_RETRAITE_FS = spec(
    "retraite",
    ("Aide au dossier retraite", "Démarches retraite : demande en ligne et relevé de carrière"),
    (
        "Accompagnement pour préparer son départ à la retraite : création du compte sur "
        "info-retraite.fr, vérification du relevé de carrière, demande de retraite unique en ligne "
        "(régime général, MSA, Agirc-Arrco), demande d’ASPA (minimum vieillesse).",
        "Vous partez bientôt à la retraite ? Nous vous aidons à constituer votre dossier retraite, "
        "à corriger votre relevé de carrière et à faire la demande de pension et de retraite "
        "complémentaire.",
    ),
    "accompagnement",
    (ADM, DROITS, EN_LIGNE),
    publics=("seniors", "actifs"),
    documents=(ID, RELEVE_CARRIERE, RIB, AVIS_IMPOT),
    appointment=True,
)

IMPOTS_FS = spec(
    "impots",
    ("Aide à la déclaration de revenus", "Permanence impôts : déclaration en ligne"),
    (
        "Aide à la déclaration de revenus en ligne sur impots.gouv.fr, création de l’espace "
        "particulier, compréhension d’un avis d’impôt ou de taxe foncière, demande de délai de "
        "paiement.",
    ),
    "accompagnement",
    (ADM, EN_LIGNE),
    documents=(AVIS_IMPOT, IDENTIFIANTS),
    appointment=True,
)

ANTS_FS = spec(
    "ants",
    (
        "Démarches ANTS : carte grise, permis de conduire, pré-demande de carte d’identité",
        "Aide aux démarches en ligne ANTS (titres sécurisés)",
    ),
    (
        "Accompagnement pour les démarches sur le site de l’ANTS : certificat d’immatriculation "
        "(carte grise), permis de conduire, pré-demande de carte nationale d’identité ou de "
        "passeport.",
    ),
    "accompagnement",
    (EN_LIGNE, ADM),
    documents=(ID, IDENTIFIANTS),
    appointment=False,
)

CONCILIATEUR = spec(
    "conciliateur",
    (
        "Permanence du conciliateur de justice",
        "Conciliateur de justice : régler un litige à l’amiable",
    ),
    (
        "Le conciliateur de justice, bénévole, aide à trouver une solution amiable à un litige "
        "de la vie quotidienne : voisinage, loyer et dépôt de garantie, consommation, malfaçons. "
        "Gratuit, sur rendez-vous.",
    ),
    "accompagnement",
    (JUDICIAIRE,),
    appointment=True,
    hours=H_PERMANENCE_2,
    mobilisation=("telephoner",),
)

ATELIER_NUMERIQUE_FS = spec(
    "atelier-numerique",
    (
        "Ateliers numériques : prendre en main son smartphone et internet",
        "Initiation au numérique (ordinateur, smartphone, messagerie)",
    ),
    (
        "Ateliers en petit groupe pour apprendre à utiliser un ordinateur ou un smartphone, créer "
        "une adresse e-mail, naviguer sur internet en sécurité et faire ses démarches en ligne "
        "(ameli, caf.fr, impots.gouv). Animés par un conseiller numérique.",
    ),
    "atelier",
    (FONDAMENTAUX, EN_LIGNE),
    appointment=True,
    weekly_hours=2.0,
    weeks=6,
    limited=True,
    mobilisation=("telephoner", "se-presenter"),
)

FS_ITINERANTE = spec(
    "bus-itinerant",
    (
        "France Services itinérante : le bus des services publics",
        "Bus France Services dans les villages",
    ),
    (
        "Le bus France Services sillonne les villages des Baronnies : Séderon, Montbrun-les-Bains, "
        "Rémuzat, La Motte-Chalancon. À bord, un agent vous aide pour vos démarches CAF, CPAM, "
        "retraite, impôts, ANTS et France Travail, avec une connexion internet et une imprimante.",
    ),
    "accompagnement",
    (ADM, EN_LIGNE, DROITS),
    zone="epci",
    appointment=False,
    hours="Mo 09:00-12:00; We 14:00-17:00; Th 09:00-12:00; Fr 09:00-12:00; PH off",
)

MEDIATION_SOCIALE = spec(
    "mediation-sociale",
    (
        "Médiation sociale et accès aux droits",
        "Accueil et médiation : orienter vers le bon service",
        "Point d’information médiation multi-services",
    ),
    (
        "Les médiateurs du PIMMS accueillent gratuitement toute personne pour l’aider dans ses "
        "démarches administratives et l’orienter vers le bon service : CAF, CPAM, France Travail, "
        "bailleurs, fournisseurs d’énergie, transports. Médiation en cas de litige avec une "
        "administration.",
        "Interface de confiance entre les usagers et les services publics : information sur les "
        "droits, aide aux démarches, explication des courriers, médiation avec les opérateurs "
        "(EDF, Engie, La Poste, SNCF, Veolia). Accueil sans rendez-vous.",
    ),
    "accompagnement",
    (ADM, DROITS),
    appointment=False,
    response_days=3,
)

AIDE_COURRIERS = spec(
    "aide-courriers",
    (
        "Aide à la rédaction de courriers et de formulaires",
        "Aide aux courriers administratifs (écrivain public)",
    ),
    (
        "Aide à la rédaction et à l’impression de courriers et de formulaires administratifs, "
        "lecture et explication des courriers reçus. Un service d’écrivain public de proximité.",
        "Remplir un formulaire CAF, écrire à son bailleur ou contester une facture : un médiateur "
        "vous aide à rédiger et imprimer vos courriers.",
    ),
    "accompagnement",
    (ADM, FRANCAIS),
    documents=(COURRIER,),
    appointment=False,
)

MEDIATION_ENERGIE = spec(
    "energie",
    (
        "Médiation énergie et eau : factures, chèque énergie, impayés",
        "Réduire ses factures d’énergie et gérer un impayé",
    ),
    (
        "Comprendre ses factures d’électricité, de gaz ou d’eau, obtenir un échéancier en cas "
        "d’impayé, utiliser le chèque énergie, demander une aide au Fonds de solidarité logement "
        "(FSL énergie). Conseils d’éco-gestes pour réduire sa consommation.",
        "Vous avez une facture EDF, Engie ou d’eau trop élevée ou une menace de coupure ? Le "
        "médiateur contacte le fournisseur avec vous, négocie un échéancier et vous aide à "
        "demander les aides (chèque énergie, FSL).",
    ),
    "accompagnement",
    (PREVENIR, BUDGET, MAINTIEN),
    documents=(FACTURES, ID),
    appointment=False,
)

DEMARCHES_CAF_CPAM = spec(
    "demarches-caf-cpam",
    ("Aide aux démarches CAF et assurance maladie en ligne", "Accompagnement caf.fr et ameli.fr"),
    (
        "Création et utilisation de l’espace personnel caf.fr et du compte ameli, déclaration "
        "trimestrielle de ressources (RSA, prime d’activité), demande d’aide au logement (APL), "
        "demande de complémentaire santé solidaire (CSS), attestation de droits.",
    ),
    "accompagnement",
    (EN_LIGNE, DROITS, ADM),
    documents=(CAF_NUM, VITALE, IDENTIFIANTS),
    appointment=False,
)

MEDIATION_RETRAITE = spec(
    "retraite",
    ("Accompagnement aux démarches de départ à la retraite", "Dossier retraite et demande d’ASPA"),
    (
        "Les médiateurs accompagnent les futurs retraités : relevé de carrière, demande de "
        "retraite en ligne, pension de réversion, allocation de solidarité aux personnes âgées "
        "(ASPA).",
    ),
    "accompagnement",
    (ADM, DROITS),
    publics=("seniors",),
    documents=(ID, RELEVE_CARRIERE, RIB),
    appointment=True,
)

MEDIATION_NUMERIQUE = spec(
    "numerique",
    (
        "Accès au numérique : poste en libre accès et accompagnement",
        "Accompagnement numérique pour les démarches en ligne",
    ),
    (
        "Ordinateurs en libre accès avec imprimante et scanner, aide à la prise en main des outils "
        "numériques et des démarches en ligne, accompagnement personnalisé par un médiateur.",
    ),
    "accompagnement",
    (CONNEXION, EN_LIGNE, FONDAMENTAUX),
    appointment=False,
)

TRANSPORTS = spec(
    "transports",
    (
        "Information transports et tarification solidaire",
        "Mobilité : abonnement solidaire bus et TER",
    ),
    (
        "Information sur les horaires et les réseaux de transport (bus de l’agglomération, cars "
        "régionaux, TER), aide à la demande de tarification solidaire et de carte de réduction.",
    ),
    "information",
    (MOBILITE_DOUCE, FINANCER_MOBILITE),
    appointment=False,
)

MEDIATION_DOMICILE = spec(
    "mediation-seniors",
    (
        "Médiation sociale vers les seniors isolés (visites à domicile)",
        "Aller vers les seniors isolés et leurs aidants",
    ),
    (
        "Des binômes de médiateurs sociaux vont à la rencontre des seniors isolés dans les "
        "résidences des bailleurs sociaux : tournées de veille, visites de courtoisie, cafés "
        "citoyens en pied d’immeuble, aide aux démarches retraite et accès aux soins. Les "
        "médiateurs se déplacent à domicile pour les personnes qui ne peuvent pas se déplacer.",
    ),
    "accompagnement",
    (LIEN_SOCIAL, AIDANTS, DROITS),
    publics=("seniors",),
    publics_details="Personnes âgées isolées et leurs proches aidants.",
    zone="epci",
    mobilisation=("telephoner", "envoyer-un-courriel"),
    mobilisable_par=("professionnels", "usagers"),
)

ACCUEIL_CAF = spec(
    "accueil",
    (
        "Accueil CAF : prestations familiales, logement, RSA, prime d’activité",
        "Accueil des allocataires de la CAF de la Drôme",
        "Point d’accueil CAF (caisse d’allocations familiales)",
    ),
    (
        "L’accueil de la caisse d’allocations familiales (CAF) vous renseigne sur vos droits et "
        "vos dossiers : allocations familiales, aide personnalisée au logement (APL), revenu de "
        "solidarité active (RSA), prime d’activité, allocation aux adultes handicapés (AAH), "
        "prestations jeune enfant (PAJE). Bornes caf.fr en libre-service.",
        "Accueil sur rendez-vous des allocataires CAF pour toute question sur les allocations "
        "familiales, les aides au logement (APL, ALS), le RSA, la prime d’activité ou l’AAH. "
        "Prenez rendez-vous sur caf.fr ou au téléphone.",
    ),
    "information",
    (DROITS, ADM),
    documents=(CAF_NUM, ID),
    appointment=True,
    mobilisation=("se-presenter", "telephoner", "utiliser-lien-mobilisation"),
    zone="departement",
    booking_url="https://www.caf.fr",
)

CAF_TRAVAIL_SOCIAL = spec(
    "accompagnement-social",
    (
        "Accompagnement social CAF : séparation, décès, impayé de loyer",
        "Travailleurs sociaux de la CAF",
    ),
    (
        "Les travailleurs sociaux de la CAF accompagnent les familles allocataires confrontées à "
        "une séparation, au décès d’un proche, à un impayé de loyer ou à la naissance d’un enfant "
        "en situation de fragilité.",
    ),
    "accompagnement",
    (VIOLENCE, IMPAYES, PARENTALITE),
    publics=("familles",),
    zone="departement",
    appointment=True,
    mobilisable_par=("professionnels", "usagers"),
    mobilisation=("telephoner", "envoyer-un-courriel"),
)

CAF_EN_LIGNE = spec(
    "rendez-vous-distance",
    ("Rendez-vous CAF à distance (téléphone ou visio)",),
    (
        "Un conseiller de la CAF vous rappelle ou vous reçoit en visio pour faire le point sur "
        "votre dossier : changement de situation, droits au RSA, à la prime d’activité, aux "
        "allocations logement.",
    ),
    "information",
    (DROITS, EN_LIGNE),
    reception=("a-distance",),
    zone="departement",
    appointment=True,
    mobilisation=("utiliser-lien-mobilisation", "telephoner"),
    mobilisable_par=("usagers",),
    referral_url="https://www.caf.fr",
)

ACCUEIL_CPAM = spec(
    "accueil",
    (
        "Accueil Assurance maladie (CPAM) : carte Vitale, remboursements, CSS",
        "Accueil CPAM de la Drôme",
        "Point d’accueil de l’Assurance maladie",
    ),
    (
        "La caisse primaire d’assurance maladie (CPAM) vous accueille pour vos droits santé : "
        "affiliation, carte Vitale, remboursements de soins, indemnités journalières, "
        "complémentaire santé solidaire (CSS, ex-CMU-C), aide médicale de l’État (AME).",
        "Accueil de l’Assurance maladie, avec ou sans rendez-vous : ouverture de droits, "
        "attestation de droits, carte Vitale, arrêt maladie, CSS. Rendez-vous possible depuis le "
        "compte ameli.",
    ),
    "information",
    (SOINS, DROITS),
    documents=(VITALE, ID),
    appointment=False,
    zone="departement",
    mobilisation=("se-presenter", "telephoner", "utiliser-lien-mobilisation"),
    booking_url="https://www.ameli.fr",
)

CSS = spec(
    "css",
    (
        "Complémentaire santé solidaire (CSS) : aide à la demande",
        "Demande de CSS (ex-CMU complémentaire / ACS)",
    ),
    (
        "Aide à la demande de complémentaire santé solidaire (CSS), gratuite ou à moins d’un euro "
        "par jour selon les ressources. La CSS remplace la CMU-C et l’ACS : elle prend en charge "
        "la part complémentaire des soins, lunettes, prothèses dentaires et auditives.",
    ),
    "accompagnement",
    (SOINS, DROITS),
    publics_details="Personnes aux ressources modestes, bénéficiaires du RSA inclus.",
    documents=(VITALE, RESSOURCES, AVIS_IMPOT),
    appointment=False,
    zone="departement",
)

MISSION_ACCOMPAGNEMENT_SANTE = spec(
    "renoncement-soins",
    (
        "Mission accompagnement santé : ne plus renoncer aux soins",
        "Accompagnement des personnes qui renoncent à se soigner",
    ),
    (
        "Vous renoncez à des soins (dentiste, lunettes, spécialiste) pour des raisons financières "
        "ou de complexité ? Un conseiller de l’Assurance maladie fait le bilan de vos droits, "
        "vous aide à trouver un professionnel et à monter un plan de financement.",
    ),
    "accompagnement",
    (SOINS,),
    zone="departement",
    mobilisable_par=("professionnels",),
    mobilisation=("envoyer-un-courriel", "telephoner"),
    mobilisation_details="Orientation par un professionnel (travailleur social, médiateur, "
    "soignant) avec l’accord de la personne.",
    response_days=15,
)

ACCUEIL_MSA = spec(
    "accueil",
    ("Accueil MSA : protection sociale agricole", "MSA Ardèche Drôme Loire – accueil des assurés"),
    (
        "La Mutualité sociale agricole accueille les exploitants, salariés agricoles et leurs "
        "familles : santé, famille, logement, retraite agricole, prime d’activité, RSA des "
        "non-salariés agricoles.",
    ),
    "information",
    (DROITS, SOINS, ADM),
    publics=("actifs", "familles", "seniors"),
    publics_details="Assurés du régime agricole (exploitants, salariés agricoles).",
    documents=(ID, VITALE),
    appointment=True,
    zone="departement",
    mobilisation=("telephoner", "utiliser-lien-mobilisation"),
    booking_url="https://www.msa.fr",
)

MSA_SOCIAL = spec(
    "accompagnement-social",
    (
        "Accompagnement social des agriculteurs en difficulté",
        "Aide aux exploitants agricoles en difficulté",
    ),
    (
        "Les travailleurs sociaux de la MSA accompagnent les agriculteurs en difficulté "
        "économique, en épuisement professionnel ou confrontés à un accident de la vie : aide au "
        "répit, droit à l’erreur, plan d’accompagnement.",
    ),
    "accompagnement",
    (PREVENIR, CONFIANCE),
    publics=("actifs",),
    zone="departement",
    appointment=True,
)

RETRAITE_CARSAT = spec(
    "preparer-retraite",
    (
        "Préparer sa retraite : information et dossier retraite",
        "Agence retraite – demande de retraite et relevé de carrière",
    ),
    (
        "L’agence retraite de l’Assurance retraite (Carsat Rhône-Alpes) vous aide à préparer "
        "votre départ : relevé de carrière, régularisation de trimestres, estimation du montant de "
        "la pension, demande de retraite, pension de réversion, ASPA (minimum vieillesse).",
        "Conseillers retraite sur rendez-vous pour vérifier votre carrière et déposer votre "
        "demande de retraite du régime général. Prenez rendez-vous sur lassuranceretraite.fr ou "
        "par téléphone au 3960.",
    ),
    "accompagnement",
    (DROITS, ADM),
    publics=("seniors", "actifs"),
    documents=(ID, RELEVE_CARRIERE, RIB, LIVRET),
    appointment=True,
    zone="departement",
    mobilisation=("utiliser-lien-mobilisation", "telephoner"),
    booking_url="https://www.lassuranceretraite.fr",
)

SERVICE_SOCIAL_CARSAT = spec(
    "service-social",
    (
        "Service social de l’Assurance retraite et de la santé au travail",
        "Prévention de la désinsertion professionnelle (service social Carsat)",
    ),
    (
        "Le service social de la Carsat accompagne les assurés en arrêt de travail de longue durée "
        "pour préparer le maintien dans l’emploi, et les retraités fragilisés (retour à domicile "
        "après hospitalisation, aide au bien vieillir).",
    ),
    "accompagnement",
    (MAINTIEN_EMPLOI, SOINS, DEPENDANCE),
    publics=("actifs", "seniors"),
    zone="departement",
    appointment=True,
    mobilisable_par=("professionnels", "usagers"),
    mobilisation=("telephoner",),
)

DOSSIER_MDPH = spec(
    "dossier-mdph",
    (
        "Dossier MDPH : AAH, RQTH, PCH, carte mobilité inclusion",
        "Information et aide au dossier MDPH (handicap)",
    ),
    (
        "La Maison départementale des personnes handicapées (MDPH), au sein de la Maison "
        "départementale de l’autonomie, informe et aide à constituer le dossier de demande : "
        "allocation aux adultes handicapés (AAH), reconnaissance de la qualité de travailleur "
        "handicapé (RQTH), prestation de compensation du handicap (PCH), carte mobilité inclusion "
        "(CMI), orientation en établissement.",
    ),
    "accompagnement",
    (MDPH, DROITS),
    publics=("personnes-en-situation-de-handicap",),
    documents=(CERTIFICAT_MEDICAL, ID, DOMICILE),
    zone="departement",
    appointment=False,
    mobilisation=("se-presenter", "telephoner", "envoyer-un-courriel"),
    response_days=30,
)

ACCUEIL_AUTONOMIE = spec(
    "autonomie",
    ("Accueil autonomie : APA et aide aux aidants", "Allocation personnalisée d’autonomie (APA)"),
    (
        "Information des personnes âgées et de leurs proches aidants : allocation personnalisée "
        "d’autonomie (APA) à domicile ou en établissement, aménagement du logement, solutions de "
        "répit et d’accueil de jour.",
    ),
    "information",
    (DEPENDANCE, AIDANTS),
    publics=("seniors",),
    zone="departement",
    appointment=False,
)

CONSULTATION_AVOCAT = spec(
    "consultation-avocat",
    (
        "Consultation gratuite d’un avocat",
        "Permanence d’avocat gratuite (accès au droit)",
        "Consultations juridiques gratuites avec un avocat",
    ),
    (
        "Un avocat du barreau vous reçoit gratuitement pour un premier conseil juridique : "
        "famille (divorce, garde d’enfants, pension alimentaire), travail, logement, dettes, "
        "droit pénal. Il vous informe aussi sur l’aide juridictionnelle.",
        "Consultation juridique gratuite et confidentielle de 20 minutes avec un avocat, sur "
        "rendez-vous. Pour connaître vos droits avant d’engager une procédure et savoir si vous "
        "pouvez bénéficier de l’aide juridictionnelle.",
    ),
    "information",
    (JUDICIAIRE, DROITS),
    appointment=True,
    hours=H_PERMANENCE_2,
    mobilisation=("telephoner",),
    documents=(COURRIER,),
)

INFO_JURIDIQUE = spec(
    "information-juridique",
    (
        "Point-justice : information juridique et accès au droit",
        "Accès au droit : juriste et orientation",
    ),
    (
        "Le point-justice informe gratuitement sur vos droits et vos démarches juridiques : "
        "litiges de voisinage ou de consommation, droit de la famille, droit du travail, "
        "aide juridictionnelle, saisine du tribunal. Orientation vers les avocats, notaires, "
        "conciliateurs et médiateurs.",
    ),
    "information",
    (JUDICIAIRE, DROITS),
    appointment=False,
)

DEFENSEUR_DROITS = spec(
    "defenseur-des-droits",
    (
        "Délégué du Défenseur des droits",
        "Défenseur des droits : litige avec un service public, discrimination",
    ),
    (
        "Le délégué du Défenseur des droits reçoit les personnes en litige avec un service public "
        "(CAF, CPAM, préfecture, France Travail) ou victimes de discrimination, et cherche une "
        "solution amiable. Gratuit.",
    ),
    "accompagnement",
    (DISCRIMINATION, DROITS),
    appointment=True,
    hours=H_PERMANENCE_3,
    mobilisation=("telephoner",),
)

VIOLENCES_FEMMES = spec(
    "violences",
    (
        "Accompagnement des femmes victimes de violences",
        "Violences conjugales : écoute, information et accompagnement",
    ),
    (
        "Le CIDFF accueille et accompagne les femmes victimes de violences conjugales ou "
        "sexuelles : écoute, information juridique (ordonnance de protection, dépôt de plainte), "
        "accompagnement vers l’hébergement et l’autonomie. Numéro national d’écoute : 3919.",
    ),
    "accompagnement",
    (VIOLENCE, JUDICIAIRE),
    publics=("femmes", "personnes-en-situation-durgence"),
    zone="departement",
    appointment=None,
    mobilisation=("telephoner", "se-presenter", "envoyer-un-courriel"),
    response_days=2,
)

INFO_JURIDIQUE_FAMILLE = spec(
    "droit-famille",
    (
        "Information juridique droit de la famille (séparation, divorce, pension alimentaire)",
        "Juriste CIDFF : droit de la famille",
    ),
    (
        "Une juriste du CIDFF informe gratuitement sur le droit de la famille : séparation, "
        "divorce, autorité parentale, résidence des enfants, pension alimentaire et recouvrement "
        "par l’ARIPA (CAF).",
    ),
    "information",
    (VIOLENCE, JUDICIAIRE, PARENTALITE),
    publics=("femmes", "familles"),
    zone="departement",
    appointment=True,
)

EMPLOI_FEMMES = spec(
    "emploi-femmes",
    ("Bureau d’accompagnement individualisé vers l’emploi (BAIE)",),
    (
        "Accompagnement vers l’emploi et la formation des femmes éloignées de l’emploi : bilan, "
        "projet professionnel, garde d’enfants, confiance en soi.",
    ),
    "accompagnement",
    (METIER, CONFIANCE, GARDE),
    publics=("femmes", "demandeurs-emploi"),
    zone="epci",
    appointment=True,
    weeks=26,
    mobilisable_par=("professionnels",),
    mobilisation=("envoyer-un-courriel",),
    limited=True,
)

AIDE_VICTIMES = spec(
    "aide-victimes",
    ("Aide aux victimes d’infractions", "Accompagnement des victimes (agression, vol, accident)"),
    (
        "Écoute, information sur les droits et accompagnement des victimes d’infractions pénales "
        "(agression, cambriolage, escroquerie, accident de la route) : dépôt de plainte, "
        "indemnisation, soutien psychologique, accompagnement à l’audience.",
    ),
    "accompagnement",
    (JUDICIAIRE, PSY),
    zone="departement",
    mobilisation=("telephoner", "se-presenter"),
)

ATELIER_ECRITURE = spec(
    "ateliers-francais",
    (
        "Ateliers sociolinguistiques : apprendre le français",
        "Cours de français (FLE) et ateliers de lecture-écriture",
    ),
    (
        "Ateliers pour apprendre ou réapprendre le français à l’oral et à l’écrit, dans les "
        "situations du quotidien : rendez-vous médical, école, courriers administratifs, "
        "recherche d’emploi. Français langue étrangère (FLE) et lutte contre l’illettrisme.",
    ),
    "atelier",
    (FRANCAIS,),
    publics=("personnes-exilees", "demandeurs-emploi", "familles"),
    publics_details="Adultes qui souhaitent progresser en français, quelle que soit leur origine.",
    fees="payant",
    fees_details="Adhésion annuelle de 10 €.",
    appointment=True,
    weekly_hours=4.0,
    weeks=30,
    limited=True,
)

RESTOS = spec(
    "aide-alimentaire",
    (
        "Distribution alimentaire des Restos du cœur",
        "Aide alimentaire – Restos du cœur",
        "Paniers repas et distribution de denrées",
    ),
    (
        "Distribution gratuite de denrées alimentaires et de produits d’hygiène aux personnes "
        "inscrites, pendant la campagne d’hiver et la campagne d’été. Inscription sur place après "
        "un entretien confidentiel. Accueil chaleureux, café et écoute.",
        "Les Restos du cœur proposent une aide alimentaire (paniers, colis) et un accompagnement "
        "vers l’accès aux droits. L’inscription se fait sur justificatifs de ressources et de "
        "charges.",
    ),
    "aide-materielle",
    (ALIM,),
    conditions="Inscription sur critères de ressources (reste à vivre).",
    documents=(ID, RESSOURCES, QUITTANCE),
    appointment=False,
    hours=H_FOOD,
    limited=True,
)

RESTOS_BEBES = spec(
    "restos-bebes",
    ("Restos bébés du cœur : lait, couches et accompagnement des jeunes parents",),
    (
        "Aide aux familles avec des enfants de moins de 18 mois : lait infantile, petits pots, "
        "couches, vêtements, et conseils de puéricultrices bénévoles.",
    ),
    "aide-materielle",
    (ALIM, PARENTALITE),
    publics=("familles",),
    documents=(ID, RESSOURCES, LIVRET),
    appointment=False,
    hours=H_PERMANENCE_3,
)

SP_ALIMENTAIRE = spec(
    "libre-service-solidaire",
    ("Libre-service solidaire (aide alimentaire)", "Aide alimentaire du Secours populaire"),
    (
        "Le libre-service solidaire permet aux familles de choisir leurs produits alimentaires et "
        "d’hygiène contre une participation symbolique. Accueil, écoute et accès aux droits par "
        "des bénévoles.",
    ),
    "aide-materielle",
    (ALIM,),
    fees="payant",
    fees_details="Participation symbolique de 10 % de la valeur des produits.",
    documents=(ID, RESSOURCES),
    appointment=False,
    hours=H_FOOD_ALT,
    limited=True,
)

VESTIAIRE = spec(
    "vestiaire",
    ("Vestiaire solidaire", "Vêtements à petits prix (vestiboutique)"),
    (
        "Vêtements, chaussures et linge de maison pour toute la famille, donnés ou à tout petit "
        "prix. Ouvert à tous, sans justificatif.",
    ),
    "aide-materielle",
    (HABILLEMENT,),
    fees="payant",
    fees_details="De 0,50 € à 5 € par article.",
    appointment=False,
    hours="We 14:00-17:00; Sa 09:00-12:00",
)

VACANCES = spec(
    "vacances",
    ("Départs en vacances et sorties familiales",),
    (
        "Journées à la mer, séjours en famille et colonies pour les enfants qui ne partent pas "
        "en vacances, avec une participation adaptée aux ressources.",
    ),
    "aide-materielle",
    (LOISIRS, LIEN_SOCIAL),
    publics=("familles",),
    fees="payant",
    fees_details="Participation selon le quotient familial.",
    appointment=True,
    limited=True,
)

BANQUE_ALIMENTAIRE = spec(
    "approvisionnement",
    ("Approvisionnement des associations d’aide alimentaire",),
    (
        "La Banque alimentaire collecte, trie et redistribue des denrées aux associations, CCAS et "
        "épiceries sociales partenaires du département. Elle ne distribue pas directement aux "
        "particuliers : adressez-vous à l’une de ses associations partenaires.",
    ),
    "aide-materielle",
    (ALIM,),
    zone="departement",
    mobilisable_par=("professionnels",),
    mobilisation=("envoyer-un-courriel", "telephoner"),
)

BENEVOLAT_BA = spec(
    "benevolat",
    ("Devenir bénévole : collectes et tri", "Bénévolat à la Banque alimentaire"),
    (
        "Participer aux collectes en magasin, au tri des denrées et à la logistique. Une façon de "
        "se rendre utile, de rencontrer du monde et de reprendre un rythme.",
    ),
    "atelier",
    (BENEVOLAT, LIEN_SOCIAL),
    zone="departement",
    appointment=True,
)

EPICERIE = spec(
    "epicerie-solidaire",
    ("Épicerie solidaire", "Épicerie sociale : produits à petits prix"),
    (
        "Produits alimentaires, d’hygiène et d’entretien à 10 à 30 % de leur prix, pour une durée "
        "limitée, avec un projet (payer une dette, financer le permis). Accès sur orientation d’un "
        "travailleur social.",
    ),
    "aide-materielle",
    (ALIM, BUDGET),
    fees="payant",
    fees_details="Produits à 10 à 30 % du prix habituel.",
    conditions="Accès sur orientation d’un travailleur social, pour 3 à 6 mois renouvelables.",
    mobilisable_par=("professionnels",),
    mobilisation=("envoyer-un-courriel", "telephoner"),
    documents=(ID, RESSOURCES),
    appointment=True,
    limited=True,
    zone="epci",
)

ATELIER_CUISINE = spec(
    "atelier-cuisine",
    ("Atelier cuisine petit budget",),
    (
        "Cuisiner ensemble des repas équilibrés avec peu de moyens, partager des recettes et un "
        "moment convivial.",
    ),
    "atelier",
    (ALIM, BUDGET, LIEN_SOCIAL),
    appointment=True,
    weekly_hours=3.0,
    weeks=10,
)

COLIS_CROIX_ROUGE = spec(
    "colis-alimentaires",
    ("Colis alimentaires d’urgence", "Aide alimentaire d’urgence (Croix-Rouge)"),
    (
        "Colis alimentaires d’urgence et bons d’achat, sur orientation d’un travailleur social ou "
        "après un entretien avec un bénévole.",
    ),
    "aide-materielle",
    (ALIM,),
    publics=("personnes-en-situation-durgence",),
    documents=(ID,),
    appointment=False,
    hours=H_FOOD_ALT,
)

HEBERGEMENT_URGENCE_115 = spec(
    "115",
    ("115 – Hébergement d’urgence de la Drôme", "Numéro d’urgence sociale 115 (mise à l’abri)"),
    (
        "Le 115, numéro d’urgence gratuit joignable 24 h/24, oriente les personnes sans abri ou en "
        "danger vers une place d’hébergement d’urgence ou une mise à l’abri, et déclenche les "
        "maraudes. Le SIAO (service intégré d’accueil et d’orientation) centralise les demandes "
        "d’hébergement et de logement accompagné.",
        "Sans logement ce soir ? Appelez le 115 (gratuit, 24 h/24, 7 j/7) : l’écoutant recherche "
        "une place d’hébergement d’urgence, une nuit à l’hôtel ou un accueil de nuit, et oriente "
        "vers les accueils de jour.",
    ),
    "accompagnement",
    (HEBERGEMENT,),
    publics=("personnes-en-situation-durgence",),
    reception=("a-distance",),
    mobilisation=("telephoner",),
    zone="departement",
    hours=H_ALWAYS,
    appointment=False,
)

SIAO_INSERTION = spec(
    "demande-siao",
    ("Demande d’hébergement d’insertion et de logement accompagné (SIAO)",),
    (
        "Les travailleurs sociaux déposent auprès du SIAO les demandes d’hébergement d’insertion "
        "(CHRS), de pension de famille, de résidence sociale ou d’intermédiation locative. La "
        "commission d’orientation étudie chaque demande.",
    ),
    "accompagnement",
    (HEBERGEMENT, ACCES_LOGEMENT),
    publics=("personnes-en-situation-durgence",),
    mobilisable_par=("professionnels",),
    mobilisation=("utiliser-lien-mobilisation",),
    referral_url="https://sisiao.social.gouv.fr",
    zone="departement",
    response_days=30,
    limited=True,
)

CHRS_INSERTION = spec(
    "hebergement-insertion",
    ("Hébergement et réinsertion sociale (CHRS)", "Centre d’hébergement et de réinsertion sociale"),
    (
        "Hébergement temporaire en appartement ou en collectif avec un accompagnement social "
        "global : accès aux droits, santé, emploi, recherche de logement. Admission sur "
        "orientation du SIAO.",
    ),
    "accompagnement",
    (HEBERGEMENT, ACCES_LOGEMENT),
    publics=("personnes-en-situation-durgence", "familles"),
    conditions="Orientation par le SIAO de la Drôme.",
    mobilisable_par=("professionnels",),
    mobilisation=("envoyer-un-courriel",),
    zone="departement",
    limited=True,
    response_days=20,
)

MISE_A_L_ABRI = spec(
    "hebergement-urgence",
    ("Hébergement d’urgence (places de mise à l’abri)", "Accueil de nuit et mise à l’abri"),
    (
        "Places d’hébergement d’urgence pour les personnes sans abri, hommes seuls, femmes et "
        "familles : lit, repas du soir, douche. Accès par le 115.",
    ),
    "aide-materielle",
    (HEBERGEMENT,),
    publics=("personnes-en-situation-durgence",),
    mobilisation=("telephoner",),
    mobilisation_details="Accès uniquement par le 115.",
    zone="departement",
    hours="Mo-Su 18:00-09:00",
    limited=True,
)

ACCUEIL_DE_JOUR = spec(
    "accueil-de-jour",
    (
        "Accueil de jour : douches, laverie, petit-déjeuner",
        "Accueil de jour pour personnes sans abri",
    ),
    (
        "Lieu d’accueil inconditionnel en journée pour les personnes à la rue ou mal logées : "
        "café, petit-déjeuner, douches, laverie, bagagerie, domiciliation et présence de "
        "travailleurs sociaux pour l’accès aux droits et à l’hébergement.",
    ),
    "aide-materielle",
    (HEBERGEMENT, ALIM, LIEN_SOCIAL),
    publics=("personnes-en-situation-durgence",),
    appointment=False,
    hours=H_DAY_CENTRE,
)

ADIL_CONSEIL = spec(
    "conseil-juridique-logement",
    (
        "Conseil juridique logement (locataires, propriétaires)",
        "ADIL : vos droits de locataire",
        "Informations gratuites sur le logement : bail, loyer, charges",
    ),
    (
        "Les juristes de l’ADIL informent gratuitement sur toutes les questions de logement : "
        "bail, dépôt de garantie, charges, réparations, logement indécent, congé, aides au "
        "logement (APL), accession à la propriété.",
        "Conseil juridique, financier et fiscal neutre et gratuit sur le logement, par téléphone, "
        "en rendez-vous ou lors des permanences dans le département.",
    ),
    "information",
    (ACCES_LOGEMENT, LOUER, MAINTIEN),
    zone="departement",
    appointment=True,
    reception=("en-presentiel", "a-distance"),
    mobilisation=("telephoner", "envoyer-un-courriel"),
    documents=(QUITTANCE,),
)

PREVENTION_EXPULSION = spec(
    "prevention-expulsions",
    (
        "Prévention des expulsions locatives : impayés de loyer",
        "Impayé de loyer ? Agir avant l’expulsion",
    ),
    (
        "En cas d’impayé de loyer ou de procédure d’expulsion (commandement de payer, assignation, "
        "jugement), l’ADIL vous explique la procédure, vos droits et les aides mobilisables : "
        "FSL, plan d’apurement, commission de surendettement.",
    ),
    "accompagnement",
    (IMPAYES, MAINTIEN),
    zone="departement",
    appointment=True,
    documents=(QUITTANCE, COURRIER),
    mobilisable_par=("usagers", "professionnels"),
)

ACCESSION = spec(
    "accession",
    ("Devenir propriétaire : conseil en accession",),
    (
        "Plan de financement personnalisé, prêt à taux zéro, aides locales à l’accession et "
        "sécurisation du projet d’achat d’un logement.",
    ),
    "information",
    (ACHETER,),
    zone="departement",
    appointment=True,
    reception=("en-presentiel", "a-distance"),
)

FJT = spec(
    "logement-jeunes",
    (
        "Logement jeunes travailleurs (FJT)",
        "Résidence habitat jeunes : chambres et studios meublés",
    ),
    (
        "Studios et chambres meublés pour les jeunes de 16 à 30 ans en formation, en apprentissage "
        "ou en emploi, avec un accompagnement vers le logement autonome. Éligible à l’APL.",
    ),
    "aide-materielle",
    (LOUER, HEBERGEMENT),
    publics=("jeunes", "etudiants"),
    publics_details="Jeunes de 16 à 30 ans.",
    fees="payant",
    fees_details="Redevance mensuelle de 420 € à 560 €, APL déductible.",
    documents=(ID, RESSOURCES),
    zone="departement",
    appointment=True,
    limited=True,
)

POINT_CONSEIL_BUDGET = spec(
    "point-conseil-budget",
    (
        "Point Conseil Budget : surendettement et gestion du budget",
        "Aide au budget et dossier de surendettement",
        "Point Conseil Budget (PCB)",
    ),
    (
        "Conseil gratuit et confidentiel pour toute personne qui a des difficultés à boucler ses "
        "fins de mois : bilan du budget, négociation avec les créanciers, aide à la constitution "
        "du dossier de surendettement auprès de la Banque de France, prévention des frais "
        "bancaires.",
        "Vous avez des dettes, des crédits à la consommation ou des découverts ? Le Point Conseil "
        "Budget vous aide à faire le point, à négocier des échéanciers et, si besoin, à déposer un "
        "dossier de surendettement.",
    ),
    "accompagnement",
    (DETTE, BUDGET, PREVENIR),
    documents=(RESSOURCES, DETTES, ID),
    zone="departement",
    appointment=True,
    reception=("en-presentiel", "a-distance"),
)

PROTECTION_MAJEURS = spec(
    "protection-majeurs",
    (
        "Information et soutien aux tuteurs familiaux",
        "Mesures de protection : tutelle, curatelle, MASP",
    ),
    (
        "Information sur les mesures de protection juridique (tutelle, curatelle, habilitation "
        "familiale) et sur la mesure d’accompagnement social personnalisé (MASP). Soutien des "
        "familles qui exercent une mesure.",
    ),
    "information",
    (PROTECTION, MESURE),
    zone="departement",
    appointment=True,
)

MICRO_CREDIT = spec(
    "microcredit",
    ("Microcrédit personnel accompagné",),
    (
        "Un prêt de 300 € à 8 000 € pour financer un projet d’insertion (permis, véhicule, "
        "équipement, formation, dépôt de garantie) quand les banques refusent un crédit classique.",
    ),
    "aide-financiere",
    (FINANCER_MOBILITE, AUTONOMIE_BUDGET),
    zone="departement",
    appointment=True,
    documents=(RESSOURCES, ID, RIB),
)

INSCRIPTION_FT = spec(
    "inscription",
    (
        "Inscription et accompagnement des demandeurs d’emploi",
        "France Travail (ex-Pôle emploi) : inscription, indemnisation, accompagnement",
        "Accueil France Travail",
    ),
    (
        "France Travail (anciennement Pôle emploi) vous accompagne dans votre recherche d’emploi : "
        "inscription comme demandeur d’emploi, indemnisation chômage (ARE), conseiller référent, "
        "offres d’emploi, aides à la mobilité et à la formation.",
        "Accueil des demandeurs d’emploi : inscription, actualisation, allocations chômage, "
        "rendez-vous avec un conseiller, accès aux offres et ateliers. Les bénéficiaires du RSA "
        "sont inscrits automatiquement depuis 2025.",
    ),
    "accompagnement",
    (OFFRES, RECHERCHE_EMPLOI, OPPORTUNITES),
    publics=("demandeurs-emploi", "beneficiaires-des-minimas-sociaux"),
    documents=(ID, CV_DOC, RIB, VITALE),
    appointment=False,
    zone="epci",
    mobilisation=("se-presenter", "utiliser-lien-mobilisation"),
    booking_url="https://www.francetravail.fr",
)

ATELIER_CV = spec(
    "atelier-cv",
    ("Atelier CV et lettre de motivation", "Atelier candidature : CV, lettre, entretien"),
    (
        "Atelier collectif d’une demi-journée pour construire un CV clair, rédiger une lettre de "
        "motivation et préparer un entretien d’embauche.",
    ),
    "atelier",
    (CV, ENTRETIEN),
    publics=("demandeurs-emploi",),
    appointment=True,
    weekly_hours=3.0,
    weeks=1,
    limited=True,
    mobilisation=("utiliser-lien-mobilisation",),
    booking_url="https://www.francetravail.fr",
)

ACCOMPAGNEMENT_GLOBAL = spec(
    "accompagnement-global",
    ("Accompagnement global emploi et social (France Travail – Département)",),
    (
        "Un conseiller France Travail et un travailleur social du Département accompagnent "
        "ensemble les personnes dont la recherche d’emploi est freinée par des difficultés "
        "sociales : logement, santé, garde d’enfants, mobilité, budget.",
    ),
    "accompagnement",
    (RECHERCHE_EMPLOI, PARCOURS_MOBILITE, GARDE),
    publics=("demandeurs-emploi", "beneficiaires-des-minimas-sociaux"),
    mobilisable_par=("professionnels",),
    mobilisation=("envoyer-un-courriel",),
    zone="epci",
    weeks=52,
)

AIDE_MOBILITE_FT = spec(
    "aides-mobilite",
    ("Aides à la mobilité pour la reprise d’emploi",),
    (
        "Aide au permis de conduire, aide aux frais de déplacement, d’hébergement ou de repas pour "
        "un entretien ou une reprise d’emploi ou de formation. Demande depuis l’espace personnel.",
    ),
    "aide-financiere",
    (FINANCER_MOBILITE, PERMIS),
    publics=("demandeurs-emploi",),
    reception=("a-distance",),
    zone="france",
    mobilisation=("utiliser-lien-mobilisation",),
    mobilisable_par=("usagers",),
    referral_url="https://www.francetravail.fr",
)

CEJ = spec(
    "cej",
    (
        "Contrat d’engagement jeune (CEJ)",
        "CEJ : accompagnement intensif et allocation pour les jeunes",
    ),
    (
        "Le contrat d’engagement jeune propose aux 16-25 ans (moins de 30 ans en situation de "
        "handicap) sans emploi ni formation un accompagnement intensif de 15 à 20 heures par "
        "semaine, avec une allocation jusqu’à 545 € par mois selon les ressources.",
    ),
    "accompagnement",
    (OFFRES, FORMATION, METIER),
    publics=("jeunes",),
    publics_details="Jeunes de 16 à 25 ans révolus.",
    documents=(ID, DOMICILE, RIB),
    weekly_hours=15.0,
    weeks=52,
    zone="epci",
    appointment=True,
    referral_url="https://www.1jeune1solution.gouv.fr",
    mobilisation=("se-presenter", "telephoner", "utiliser-lien-mobilisation"),
)

ML_ACCUEIL = spec(
    "accueil-jeunes",
    (
        "Accueil des jeunes : emploi, formation, logement, santé",
        "Mission locale – accompagnement des 16-25 ans",
    ),
    (
        "La mission locale accueille les jeunes de 16 à 25 ans sortis de l’école : orientation, "
        "recherche de formation ou d’emploi, apprentissage, mais aussi logement, santé, mobilité "
        "et accès aux droits.",
    ),
    "accompagnement",
    (FORMATION, METIER, OFFRES, ACCES_LOGEMENT),
    publics=("jeunes",),
    zone="epci",
    appointment=False,
)

ML_MOBILITE = spec(
    "permis-jeunes",
    ("Aide au permis de conduire pour les jeunes",),
    (
        "Financement partiel du permis B et accompagnement au code de la route pour les jeunes "
        "suivis, en lien avec un projet professionnel.",
    ),
    "aide-financiere",
    (PERMIS, FINANCER_MOBILITE),
    publics=("jeunes",),
    zone="epci",
    appointment=True,
    limited=True,
)

ML_SANTE = spec(
    "sante-jeunes",
    ("Point santé jeunes : bilan de santé et écoute psychologique",),
    (
        "Bilan de santé gratuit avec l’Assurance maladie, ouverture des droits, consultation avec "
        "une psychologue sur place.",
    ),
    "accompagnement",
    (SOINS, PSY),
    publics=("jeunes",),
    zone="epci",
    appointment=True,
)

PLIE = spec(
    "accompagnement-plie",
    (
        "Accompagnement renforcé vers l’emploi (PLIE)",
        "PLIE : parcours emploi des personnes éloignées de l’emploi",
    ),
    (
        "Le Plan local pour l’insertion et l’emploi propose un accompagnement individuel et "
        "renforcé vers l’emploi durable aux bénéficiaires du RSA, demandeurs d’emploi de longue "
        "durée et résidents des quartiers prioritaires : référent unique, immersions en "
        "entreprise, chantiers d’insertion, formation.",
    ),
    "accompagnement",
    (RECHERCHE_EMPLOI, VALORISER, OFFRES),
    publics=("beneficiaires-des-minimas-sociaux", "demandeurs-emploi", "residents-qpv-frr"),
    mobilisable_par=("professionnels",),
    mobilisation=("envoyer-un-courriel", "telephoner"),
    zone="epci",
    weeks=52,
    limited=True,
    response_days=15,
)

CAP_EMPLOI = spec(
    "cap-emploi",
    ("Cap emploi : emploi des personnes en situation de handicap",),
    (
        "Accompagnement vers l’emploi des personnes reconnues travailleurs handicapés (RQTH) et "
        "maintien dans l’emploi des salariés dont la santé se dégrade.",
    ),
    "accompagnement",
    (OFFRES, MAINTIEN_EMPLOI),
    publics=("personnes-en-situation-de-handicap", "demandeurs-emploi"),
    zone="departement",
    appointment=True,
)

INITIATION_INFORMATIQUE = spec(
    "initiation",
    (
        "Initiation à l’informatique et à internet",
        "Ateliers numériques débutants",
        "Apprendre les bases de l’ordinateur",
    ),
    (
        "Ateliers débutants pour apprendre à se servir d’un ordinateur, d’une tablette ou d’un "
        "smartphone : souris et clavier, e-mail, recherche sur internet, photos, visio avec ses "
        "proches.",
    ),
    "atelier",
    (FONDAMENTAUX,),
    appointment=True,
    weekly_hours=2.0,
    weeks=8,
    limited=True,
)

AIDE_EN_LIGNE = spec(
    "demarches-en-ligne",
    (
        "Aide aux démarches en ligne avec un conseiller numérique",
        "Accompagnement aux démarches administratives sur internet",
    ),
    (
        "Un conseiller numérique vous accompagne pour réaliser vos démarches en ligne : "
        "caf.fr, ameli, impots.gouv, ANTS, France Travail, prise de rendez-vous médical, "
        "espace santé. Il peut aussi vous aider à créer une adresse e-mail ou un compte "
        "FranceConnect.",
    ),
    "accompagnement",
    (EN_LIGNE, FONDAMENTAUX),
    documents=(IDENTIFIANTS,),
    appointment=True,
)

ACCES_LIBRE = spec(
    "acces-libre",
    ("Accès libre à internet et aux ordinateurs", "Postes informatiques en accès libre"),
    (
        "Ordinateurs connectés, wifi gratuit, impression et numérisation de documents en accès "
        "libre aux heures d’ouverture.",
    ),
    "aide-materielle",
    (CONNEXION,),
    appointment=False,
    fees="payant",
    fees_details="Impression : 0,10 € la page. Accès internet gratuit.",
)

EQUIPEMENT_RECONDITIONNE = spec(
    "equipement",
    ("Ordinateurs reconditionnés à petit prix",),
    (
        "Vente d’ordinateurs et de smartphones reconditionnés à prix solidaire pour les "
        "personnes à faibles ressources, sur orientation d’un travailleur social.",
    ),
    "aide-materielle",
    (EQUIPEMENT,),
    fees="payant",
    fees_details="Ordinateur portable à partir de 90 €.",
    mobilisable_par=("professionnels",),
    mobilisation=("envoyer-un-courriel",),
    limited=True,
)

PERMANENCES_NUMERIQUES = spec(
    "permanences-itinerantes",
    ("Permanences numériques itinérantes", "Conseillers numériques dans les mairies rurales"),
    (
        "Les conseillers numériques du Département tiennent des permanences dans les mairies et "
        "médiathèques des communes rurales : aide aux démarches en ligne, prise en main du "
        "smartphone, sécurité sur internet.",
    ),
    "accompagnement",
    (FONDAMENTAUX, EN_LIGNE),
    zone="departement",
    appointment=True,
    mobilisation=("telephoner",),
)

AIDANTS_CONNECT = spec(
    "aidants-connect",
    ("Aidants Connect : faire une démarche en ligne à votre place",),
    (
        "Avec votre accord (mandat Aidants Connect), un aidant habilité réalise une démarche en "
        "ligne à votre place, en toute sécurité, quand vous ne pouvez pas la faire seul.",
    ),
    "accompagnement",
    (EN_LIGNE,),
    appointment=True,
    zone="departement",
)

CMP = spec(
    "consultations",
    ("Centre médico-psychologique adultes : consultations", "CMP : soins en santé mentale"),
    (
        "Le centre médico-psychologique (CMP) propose des consultations gratuites avec un "
        "psychiatre, un psychologue ou un infirmier : souffrance psychique, dépression, "
        "anxiété, troubles psychiatriques. Premier entretien d’accueil avec un infirmier.",
    ),
    "accompagnement",
    (PSY,),
    publics_details="Adultes résidant sur le secteur de psychiatrie.",
    zone="epci",
    appointment=True,
    hours=H_SOINS,
    response_days=15,
    mobilisation=("telephoner",),
)

PASS = spec(
    "pass",
    ("Permanence d’accès aux soins de santé (PASS)", "PASS : se soigner sans couverture maladie"),
    (
        "La PASS de l’hôpital accueille les personnes sans couverture sociale ou avec des droits "
        "incomplets : consultation médicale, médicaments, examens, et ouverture des droits (PUMa, "
        "CSS, AME) avec l’assistante sociale.",
    ),
    "accompagnement",
    (SOINS, DROITS),
    publics=("personnes-en-situation-durgence", "personnes-exilees"),
    documents=(ID, ORDONNANCE),
    zone="departement",
    appointment=False,
    hours=H_SOINS,
)

CSAPA = spec(
    "addictions",
    ("Consultations addictions (alcool, tabac, cannabis, jeux)", "CSAPA : soins en addictologie"),
    (
        "Le centre de soins, d’accompagnement et de prévention en addictologie (CSAPA) reçoit "
        "gratuitement et anonymement les personnes en difficulté avec l’alcool, le tabac, le "
        "cannabis, les autres drogues ou les jeux, ainsi que leur entourage.",
    ),
    "accompagnement",
    (ADDICTIONS,),
    zone="departement",
    appointment=True,
    mobilisation=("telephoner", "se-presenter"),
)

CJC = spec(
    "consultation-jeunes-consommateurs",
    ("Consultation jeunes consommateurs (CJC)",),
    (
        "Écoute et conseil anonymes et gratuits pour les jeunes qui s’interrogent sur leur "
        "consommation (cannabis, alcool, écrans) et pour leurs parents.",
    ),
    "accompagnement",
    (ADDICTIONS, PARENTALITE),
    publics=("jeunes", "familles"),
    zone="departement",
    appointment=True,
)

SANTE_SEXUELLE = spec(
    "sante-sexuelle",
    (
        "Santé sexuelle : contraception, IVG, dépistage",
        "Centre de santé sexuelle (ex-planning familial)",
    ),
    (
        "Consultations gratuites et confidentielles : contraception, contraception d’urgence, "
        "IVG, dépistage des infections sexuellement transmissibles (IST), écoute des victimes de "
        "violences.",
    ),
    "accompagnement",
    (SEXUELLE, VIOLENCE),
    zone="departement",
    appointment=None,
)

ACCUEIL_CMS = spec(
    "accueil-social",
    (
        "Service social départemental : assistante sociale de secteur",
        "Rendez-vous avec un travailleur social du Département",
    ),
    (
        "Les assistantes et assistants sociaux du Département reçoivent toute personne en "
        "difficulté : accès aux droits, budget, logement, protection de l’enfance, "
        "accompagnement des bénéficiaires du RSA. Le centre médico-social (CMS) est le point "
        "d’entrée de l’action sociale départementale.",
    ),
    "accompagnement",
    (DROITS, BUDGET, MAINTIEN),
    zone="epci",
    appointment=True,
    response_days=10,
)

PMI = spec(
    "pmi",
    (
        "Protection maternelle et infantile (PMI) : consultations nourrissons",
        "PMI : suivi de grossesse et des enfants de moins de 6 ans",
    ),
    (
        "Consultations gratuites de puériculture et de médecine préventive pour les enfants de "
        "moins de 6 ans (vaccins, croissance), suivi de grossesse par une sage-femme, soutien à "
        "la parentalité.",
    ),
    "accompagnement",
    (PARENTALITE, SOINS),
    publics=("familles",),
    zone="epci",
    appointment=True,
)

FSL = spec(
    "fsl",
    (
        "Fonds de solidarité logement (FSL) : accès, maintien, énergie",
        "Aide FSL : dépôt de garantie, impayés de loyer ou d’énergie",
    ),
    (
        "Le FSL du Département aide à entrer dans un logement (dépôt de garantie, premier loyer), "
        "à s’y maintenir (impayés de loyer) et à payer ses factures d’énergie et d’eau. La demande "
        "est déposée avec un travailleur social.",
    ),
    "aide-financiere",
    (IMPAYES, MAINTIEN, PREVENIR),
    documents=(RESSOURCES, QUITTANCE, FACTURES, ID),
    mobilisable_par=("professionnels",),
    mobilisation=("envoyer-un-courriel",),
    zone="departement",
    response_days=30,
)

PLATEFORME_MOBILITE = spec(
    "plateforme-mobilite",
    (
        "Plateforme mobilité : diagnostic, location de véhicules, aide au permis",
        "Conseil en mobilité pour l’emploi",
    ),
    (
        "Diagnostic mobilité, location solidaire de voitures, scooters et vélos électriques, "
        "préparation au code de la route et au permis, apprentissage du vélo, transport à la "
        "demande pour se rendre à un entretien ou à une formation.",
    ),
    "accompagnement",
    (PARCOURS_MOBILITE, VEHICULE, PERMIS),
    publics=("demandeurs-emploi", "beneficiaires-des-minimas-sociaux", "jeunes"),
    mobilisable_par=("professionnels",),
    mobilisation=("envoyer-un-courriel", "telephoner"),
    zone="departement",
    fees="payant",
    fees_details="Location à partir de 2 € par jour.",
    limited=True,
)

GARAGE_SOLIDAIRE = spec(
    "garage-solidaire",
    ("Garage solidaire : réparer sa voiture à petit prix",),
    (
        "Entretien et réparation de véhicules à tarif solidaire pour les personnes à faibles "
        "revenus, sur orientation.",
    ),
    "aide-materielle",
    (REPARER,),
    fees="payant",
    fees_details="Main-d’œuvre à tarif solidaire, pièces au prix coûtant.",
    mobilisable_par=("professionnels",),
    mobilisation=("telephoner",),
    zone="epci",
)

CENTRE_SOCIAL_PARENTALITE = spec(
    "parentalite",
    ("Lieu d’accueil enfants-parents et soutien à la parentalité",),
    (
        "Temps d’échange entre parents, accueil parents-enfants de 0 à 6 ans, accompagnement à "
        "la scolarité et sorties familiales.",
    ),
    "atelier",
    (PARENTALITE, LIEN_SOCIAL),
    publics=("familles",),
    appointment=False,
    hours="We 09:00-12:00; Sa 09:30-11:30",
)

CENTRE_SOCIAL_ACCUEIL = spec(
    "accueil-lien-social",
    ("Accueil, café solidaire et activités collectives",),
    (
        "Un lieu ouvert à tous pour se rencontrer, participer à des activités (jardin partagé, "
        "sorties, repas partagés) et proposer ses propres projets.",
    ),
    "atelier",
    (LIEN_SOCIAL, BENEVOLAT),
    appointment=False,
)

DROITS_ETRANGERS = spec(
    "droits-etrangers",
    (
        "Permanence d’accès aux droits des personnes étrangères",
        "Titre de séjour, asile, regroupement familial : permanence juridique",
    ),
    (
        "Information et accompagnement des personnes étrangères dans leurs démarches : demande "
        "ou renouvellement de titre de séjour, demande d’asile, regroupement familial, "
        "naturalisation, recours. Permanence tenue par des bénévoles formés.",
    ),
    "accompagnement",
    (CITOYENNETE, DROITS, JUDICIAIRE),
    publics=("personnes-exilees",),
    documents=(ID, COURRIER),
    appointment=False,
    hours=H_PERMANENCE_1,
    zone="departement",
)

AIDE_DOSSIER_MDPH = spec(
    "aide-dossier-mdph",
    (
        "Aide au dossier MDPH (AAH, RQTH, carte mobilité inclusion)",
        "Accompagnement à la demande MDPH",
    ),
    (
        "Aide à remplir le formulaire de demande à la MDPH (allocation aux adultes handicapés, "
        "RQTH, carte mobilité inclusion, PCH), à réunir les pièces et à suivre le dossier en "
        "ligne.",
    ),
    "accompagnement",
    (MDPH, ADM),
    publics=("personnes-en-situation-de-handicap",),
    documents=(CERTIFICAT_MEDICAL, ID, DOMICILE),
    appointment=True,
)

DEMARCHES_FT = spec(
    "demarches-france-travail",
    (
        "Démarches France Travail : inscription et actualisation en ligne",
        "Aide à l’inscription à France Travail (ex-Pôle emploi)",
    ),
    (
        "Aide pour s’inscrire comme demandeur d’emploi sur francetravail.fr, s’actualiser chaque "
        "mois, consulter ses paiements d’allocation chômage et déposer ses justificatifs.",
    ),
    "accompagnement",
    (RECHERCHE_EMPLOI, EN_LIGNE),
    publics=("demandeurs-emploi",),
    documents=(ID, IDENTIFIANTS, RIB),
    appointment=False,
)

RSA_CMS = spec(
    "referent-rsa",
    (
        "Accompagnement des bénéficiaires du RSA (référent unique)",
        "Référent RSA : accompagnement social et professionnel",
    ),
    (
        "Chaque bénéficiaire du revenu de solidarité active (RSA) a un référent unique qui "
        "l’accompagne dans son parcours : contrat d’engagement réciproque, levée des freins "
        "(santé, logement, mobilité, garde d’enfants), 15 heures d’activité hebdomadaires.",
    ),
    "accompagnement",
    (DROITS, RECHERCHE_EMPLOI, PARCOURS_MOBILITE),
    publics=("beneficiaires-des-minimas-sociaux",),
    mobilisable_par=("professionnels",),
    mobilisation=("envoyer-un-courriel",),
    zone="epci",
    weekly_hours=15.0,
    response_days=15,
)

RESTOS_DROITS = spec(
    "acces-aux-droits",
    ("Accès aux droits et conseil budget aux Restos du cœur",),
    (
        "Des bénévoles formés aident les personnes accueillies à faire valoir leurs droits (CAF, "
        "CSS, chèque énergie), à tenir leur budget et à préparer un dossier de surendettement ou "
        "de microcrédit.",
    ),
    "accompagnement",
    (DROITS, BUDGET, DETTE),
    appointment=True,
)

ML_LOGEMENT = spec(
    "logement-jeunes",
    ("Trouver un logement quand on est jeune : aides et garantie Visale",),
    (
        "Information et aide pour trouver un premier logement : garantie Visale, avance Loca-Pass, "
        "APL, résidences habitat jeunes, colocation et logement intergénérationnel.",
    ),
    "information",
    (ACCES_LOGEMENT, LOUER),
    publics=("jeunes",),
    zone="epci",
    appointment=True,
)

PERMANENCES_PARTENAIRES = spec(
    "permanences-partenaires",
    (
        "Permanences des partenaires (CAF, CPAM, Carsat, CIDFF, ADIL)",
        "Rendez-vous avec un conseiller CAF, CPAM ou retraite sur place",
    ),
    (
        "Des conseillers des organismes partenaires tiennent des permanences sur rendez-vous : "
        "CAF (allocations, APL, RSA), Assurance maladie (CPAM), Carsat (retraite), ADIL "
        "(logement), CIDFF (droits des femmes), conciliateur de justice. Renseignez-vous à "
        "l’accueil pour connaître le calendrier.",
    ),
    "information",
    (DROITS, ADM),
    appointment=True,
    hours=H_PERMANENCE_2,
)

RECRUTEMENT = spec(
    "recrutement",
    (
        "Rencontres avec les employeurs et job dating",
        "Recrutements du territoire : job dating et visites d’entreprises",
    ),
    (
        "Sessions de recrutement avec les entreprises qui embauchent près de chez vous "
        "(logistique, aide à domicile, BTP, agriculture, hôtellerie-restauration), visites "
        "d’entreprises et méthode de recrutement par simulation (MRS).",
    ),
    "atelier",
    (OFFRES, ENTRETIEN, OPPORTUNITES),
    publics=("demandeurs-emploi",),
    appointment=True,
    mobilisation=("utiliser-lien-mobilisation", "se-presenter"),
    referral_url="https://www.francetravail.fr",
)

BUDGET_CMS = spec(
    "accompagnement-budgetaire",
    (
        "Accompagnement budgétaire et MASP",
        "Conseillère en économie sociale et familiale : gérer son budget",
    ),
    (
        "Une conseillère en économie sociale et familiale (CESF) aide à établir un budget, à "
        "régler les dettes de loyer ou d’énergie et, si besoin, propose une mesure "
        "d’accompagnement social personnalisé (MASP).",
    ),
    "accompagnement",
    (BUDGET, MESURE, PREVENIR),
    mobilisable_par=("professionnels", "usagers"),
    zone="epci",
    appointment=True,
)

ATELIER_SMARTPHONE = spec(
    "atelier-smartphone",
    ("Atelier smartphone et tablette", "Bien utiliser son téléphone portable"),
    (
        "Apprendre à utiliser son smartphone : appels vidéo, photos, applications utiles "
        "(ameli, caf, Doctolib, banque), sécurité et arnaques en ligne.",
    ),
    "atelier",
    (FONDAMENTAUX, EQUIPEMENT),
    publics=("seniors",),
    appointment=True,
    weekly_hours=1.5,
    weeks=4,
    limited=True,
)


# ==============================================================================================
# What each kind of structure offers
# ==============================================================================================

OFFERS: dict[str, tuple[Offer, ...]] = {
    "ccas": (
        Offer(ACCUEIL_SOCIAL_CCAS),
        Offer(DOMICILIATION),
        Offer(AIDES_FACULTATIVES),
        Offer(RSA_CCAS, 0.7),
        Offer(APA_AIDE_SOCIALE, 0.8),
        Offer(PORTAGE_REPAS, 0.6),
        Offer(REGISTRE_ISOLEMENT, 0.4),
        Offer(AIDE_EN_LIGNE, 0.3),
    ),
    "france-services": (
        Offer(ACCUEIL_FRANCE_SERVICES),
        Offer(DOSSIER_RETRAITE_FS, 0.7),
        Offer(IMPOTS_FS, 0.5),
        Offer(ANTS_FS, 0.5),
        Offer(CONCILIATEUR, 0.35),
        Offer(ATELIER_NUMERIQUE_FS, 0.5),
        Offer(DEMARCHES_CAF_CPAM, 0.6),
        Offer(DEMARCHES_FT, 0.5),
        Offer(AIDE_DOSSIER_MDPH, 0.5),
        Offer(PERMANENCES_PARTENAIRES, 0.6),
    ),
    "france-services-itinerante": (Offer(FS_ITINERANTE), Offer(DOSSIER_RETRAITE_FS)),
    "pimms": (Offer(MEDIATION_DOMICILE),),
    "pimms-site": (
        Offer(MEDIATION_SOCIALE),
        Offer(AIDE_COURRIERS),
        Offer(MEDIATION_ENERGIE),
        Offer(DEMARCHES_CAF_CPAM, 0.9),
        Offer(MEDIATION_RETRAITE, 0.8),
        Offer(MEDIATION_NUMERIQUE, 0.8),
        Offer(TRANSPORTS, 0.3),
        Offer(AIDE_DOSSIER_MDPH, 0.3),
    ),
    "caf": (Offer(ACCUEIL_CAF), Offer(CAF_TRAVAIL_SOCIAL), Offer(CAF_EN_LIGNE)),
    "caf-site": (Offer(ACCUEIL_CAF),),
    "cpam": (Offer(ACCUEIL_CPAM), Offer(CSS), Offer(MISSION_ACCOMPAGNEMENT_SANTE)),
    "cpam-site": (Offer(ACCUEIL_CPAM), Offer(CSS, 0.5)),
    "msa": (Offer(ACCUEIL_MSA), Offer(MSA_SOCIAL)),
    "carsat": (Offer(RETRAITE_CARSAT), Offer(SERVICE_SOCIAL_CARSAT)),
    "mdph": (Offer(DOSSIER_MDPH), Offer(ACCUEIL_AUTONOMIE)),
    "point-justice": (
        Offer(INFO_JURIDIQUE),
        Offer(CONSULTATION_AVOCAT),
        Offer(CONCILIATEUR, 0.5),
        Offer(DEFENSEUR_DROITS, 0.5),
    ),
    "cidff": (Offer(VIOLENCES_FEMMES), Offer(INFO_JURIDIQUE_FAMILLE), Offer(EMPLOI_FEMMES)),
    "victimes": (Offer(AIDE_VICTIMES),),
    "ecrivain-public": (
        Offer(ECRIVAIN_PUBLIC),
        Offer(ATELIER_ECRITURE, 0.6),
    ),
    "restos": (Offer(RESTOS), Offer(RESTOS_BEBES, 0.5), Offer(RESTOS_DROITS, 0.5)),
    "secours-populaire": (Offer(SP_ALIMENTAIRE), Offer(VESTIAIRE, 0.7), Offer(VACANCES, 0.5)),
    "banque-alimentaire": (Offer(BANQUE_ALIMENTAIRE), Offer(BENEVOLAT_BA)),
    "epicerie": (Offer(EPICERIE), Offer(ATELIER_CUISINE, 0.7)),
    "croix-rouge": (Offer(COLIS_CROIX_ROUGE), Offer(VESTIAIRE)),
    "siao": (Offer(HEBERGEMENT_URGENCE_115), Offer(SIAO_INSERTION)),
    "chrs": (Offer(CHRS_INSERTION), Offer(MISE_A_L_ABRI, 0.7), Offer(ACCUEIL_DE_JOUR, 0.4)),
    "accueil-de-jour": (Offer(ACCUEIL_DE_JOUR), Offer(DOMICILIATION, 0.7)),
    "adil": (Offer(ADIL_CONSEIL), Offer(PREVENTION_EXPULSION), Offer(ACCESSION)),
    "fjt": (Offer(FJT),),
    "pcb": (Offer(POINT_CONSEIL_BUDGET), Offer(PROTECTION_MAJEURS), Offer(MICRO_CREDIT, 0.7)),
    "france-travail": (
        Offer(INSCRIPTION_FT),
        Offer(ATELIER_CV, 0.8),
        Offer(ACCOMPAGNEMENT_GLOBAL, 0.7),
        Offer(AIDE_MOBILITE_FT, 0.3),
        Offer(RECRUTEMENT, 0.6),
    ),
    "mission-locale": (
        Offer(ML_ACCUEIL),
        Offer(CEJ),
        Offer(ML_MOBILITE, 0.6),
        Offer(ML_SANTE, 0.4),
        Offer(ML_LOGEMENT, 0.5),
    ),
    "plie": (Offer(PLIE),),
    "cap-emploi": (Offer(CAP_EMPLOI),),
    "epn": (
        Offer(INITIATION_INFORMATIQUE),
        Offer(AIDE_EN_LIGNE),
        Offer(ACCES_LIBRE, 0.9),
        Offer(EQUIPEMENT_RECONDITIONNE, 0.3),
        Offer(ATELIER_SMARTPHONE, 0.6),
    ),
    "conseillers-numeriques": (Offer(PERMANENCES_NUMERIQUES), Offer(AIDANTS_CONNECT)),
    "cmp": (Offer(CMP),),
    "pass": (Offer(PASS),),
    "csapa": (Offer(CSAPA), Offer(CJC, 0.7)),
    "sante-sexuelle": (Offer(SANTE_SEXUELLE),),
    "cms": (
        Offer(ACCUEIL_CMS),
        Offer(PMI, 0.8),
        Offer(FSL, 0.6),
        Offer(RSA_CMS, 0.8),
        Offer(BUDGET_CMS, 0.6),
    ),
    "mobilite": (Offer(PLATEFORME_MOBILITE), Offer(GARAGE_SOLIDAIRE, 0.6)),
    "centre-social": (
        Offer(CENTRE_SOCIAL_ACCUEIL),
        Offer(CENTRE_SOCIAL_PARENTALITE, 0.8),
        Offer(ATELIER_ECRITURE, 0.7),
        Offer(ECRIVAIN_PUBLIC, 0.6),
        Offer(ACCES_LIBRE, 0.5),
    ),
    "droits-etrangers": (Offer(DROITS_ETRANGERS), Offer(ATELIER_ECRITURE, 0.6)),
}
