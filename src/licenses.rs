//! Licenses that cover PIM for Groups: the products that include Microsoft Entra ID P2 or
//! Microsoft Entra ID Governance, as Microsoft sells them.
//!
//! Source of the product facts: Microsoft Learn, "Product names and service plan identifiers
//! for licensing" ([`SOURCE`]), as last updated on October 29, 2025. Each product below is a
//! row of that page whose "Service plans included" lists `AAD_PREMIUM_P2`
//! (eec0eb4f-6444-4f95-aba0-50c24d67f998, Microsoft Entra ID P2) or `Entra_Identity_Governance`
//! (e866a266-3cff-43a3-acca-0c90a7e00c8b, Microsoft Entra ID Governance). One row is not on that
//! page: Microsoft Entra Suite, which the page lists only as its add-on for P2; Microsoft Learn's
//! ID Governance licensing page says "Microsoft Entra Suite includes all features of Microsoft
//! Entra ID Governance", so it is accepted by its product name (no SKU part number is cited).
//!
//! `licenses:` entries match a product by its SKU part number ("String ID" on the page) or its
//! product name, ignoring case, and for names also extra spaces. pimplan's own keywords
//! `entra_id_p2` and `entra_id_governance` keep working. Any other string is kept and ignored.

/// The page the products come from.
pub const SOURCE: &str =
    "https://learn.microsoft.com/en-us/entra/identity/users/licensing-service-plan-reference";

/// Which PIM-covering service plan a product includes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// `AAD_PREMIUM_P2`, Microsoft Entra ID P2.
    EntraIdP2,
    /// `Entra_Identity_Governance`, Microsoft Entra ID Governance.
    IdGovernance,
}

/// One product that includes Entra ID P2 or ID Governance.
#[derive(Debug)]
pub struct Product {
    /// The product name as the page (and the admin centers) show it.
    pub name: &'static str,
    /// The SKU part number (`skuPartNumber`, "String ID" on the page); `None` when the page
    /// does not list the product.
    pub sku: Option<&'static str>,
    pub plan: Plan,
}

const fn p2(name: &'static str, sku: &'static str) -> Product {
    Product {
        name,
        sku: Some(sku),
        plan: Plan::EntraIdP2,
    }
}

const fn governance(name: &'static str, sku: Option<&'static str>) -> Product {
    Product {
        name,
        sku,
        plan: Plan::IdGovernance,
    }
}

/// pimplan's keywords, kept from before products were accepted.
pub const KEYWORDS: [(&str, Plan); 2] = [
    ("entra_id_p2", Plan::EntraIdP2),
    ("entra_id_governance", Plan::IdGovernance),
];

/// The products, in the page's order.
pub static PRODUCTS: &[Product] = &[
    p2("Microsoft Entra ID P2", "AAD_PREMIUM_P2"),
    p2("Enterprise Mobility + Security E5", "EMSPREMIUM"),
    p2(
        "Enterprise Mobility + Security E5_USGOV_GCCHIGH",
        "EMSPREMIUM_USGOV_GCCHIGH",
    ),
    p2("Enterprise Mobility + Security G5 GCC", "EMSPREMIUM_GOV"),
    p2("Microsoft 365 A5 for faculty", "M365EDU_A5_FACULTY"),
    p2("Microsoft 365 A5 for students", "M365EDU_A5_STUDENT"),
    p2(
        "Microsoft 365 A5 student use benefits",
        "M365EDU_A5_STUUSEBNFT",
    ),
    p2(
        "Microsoft 365 A5 without Audio Conferencing for students use benefit",
        "M365EDU_A5_NOPSTNCONF_STUUSEBNFT",
    ),
    p2("Microsoft 365 E5", "SPE_E5"),
    p2("Microsoft 365 E5 (no Teams)", "Microsoft_365_E5_(no_Teams)"),
    p2("Microsoft 365 E5 (500 seats min)_HUB", "Microsoft_365_E5"),
    p2(
        "Microsoft 365 E5 Developer (without Windows and Audio Conferencing)",
        "DEVELOPERPACK_E5",
    ),
    p2(
        "Microsoft 365 E5 EEA (no Teams)",
        "O365_w/o_Teams_Bundle_M5",
    ),
    p2(
        "Microsoft 365 E5 EEA (no Teams) with Calling Minutes",
        "Microsoft_365_E5_EEA_(no_Teams)_with_Calling_Minutes",
    ),
    p2(
        "Microsoft 365 E5 EEA (no Teams) without Audio Conferencing",
        "Microsoft_365_E5_EEA_(no_Teams)_without_Audio_Conferencing",
    ),
    // Earlier versions of the page named this SKU Microsoft 365 E5 Security.
    p2("Microsoft Defender Suite", "IDENTITY_THREAT_PROTECTION"),
    p2(
        "Microsoft 365 E5 with Calling Minutes",
        "SPE_E5_CALLINGMINUTES",
    ),
    p2(
        "Microsoft 365 E5 without Audio Conferencing",
        "SPE_E5_NOPSTNCONF",
    ),
    p2(
        "Microsoft 365 E5 without Audio Conferencing (500 seats min)_HUB",
        "Microsoft_365_E5_without_Audio_Conferencing",
    ),
    p2("Microsoft 365 F5 Security Add-on", "SPE_F5_SEC"),
    p2(
        "Microsoft 365 F5 Security + Compliance Add-on",
        "SPE_F5_SECCOMP",
    ),
    p2("Microsoft 365 E5_USGOV_GCCHIGH", "SPE_E5_USGOV_GCCHIGH"),
    p2("Microsoft 365 GCC G5", "M365_G5_GCC"),
    p2("Microsoft 365 GCC G5 w/o WDATP/CAS Unified", "M365_G5_GOV"),
    p2(
        "Microsoft 365 Security and Compliance for Firstline Workers",
        "M365_SECURITY_COMPLIANCE_FOR_FLW",
    ),
    governance(
        "Microsoft Entra ID Governance",
        Some("Microsoft_Entra_ID_Governance"),
    ),
    governance(
        "Microsoft Entra Suite Add-on for Microsoft Entra ID P2",
        Some("Microsoft_Entra_Suite_Step_Up_for_Microsoft_Entra_ID_P2"),
    ),
    // Not a row of SOURCE: Microsoft Learn, Microsoft Entra ID Governance licensing
    // fundamentals: "Microsoft Entra Suite includes all features of Microsoft Entra ID
    // Governance".
    governance("Microsoft Entra Suite", None),
];

/// Names products had before Azure AD became Microsoft Entra ID, still written in older
/// license inventories: Microsoft Learn, "New name for Azure Active Directory"
/// (https://learn.microsoft.com/en-us/entra/fundamentals/new-name) lists "Azure Active
/// Directory Premium P2" as now "Microsoft Entra ID P2".
pub const FORMER_NAMES: [(&str, Plan); 2] = [
    ("Azure Active Directory Premium P2", Plan::EntraIdP2),
    ("Azure AD Premium P2", Plan::EntraIdP2),
];

/// A name with case and runs of white space folded, for comparing product names.
fn fold(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// The PIM-covering plan a `licenses:` entry stands for, if it names one: a pimplan keyword,
/// a SKU part number or a product name.
pub fn plan_of(license: &str) -> Option<Plan> {
    let trimmed = license.trim();
    if let Some((_, plan)) = KEYWORDS
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(trimmed))
    {
        return Some(*plan);
    }
    let folded = fold(trimmed);
    if let Some((_, plan)) = FORMER_NAMES.iter().find(|(n, _)| fold(n) == folded) {
        return Some(*plan);
    }
    PRODUCTS
        .iter()
        .find(|p| p.sku.is_some_and(|s| s.eq_ignore_ascii_case(trimmed)) || fold(p.name) == folded)
        .map(|p| p.plan)
}

/// Whether a `licenses:` entry covers PIM for Groups (Entra ID P2 or ID Governance).
pub fn covers_pim(license: &str) -> bool {
    plan_of(license).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_sku_part_numbers_and_product_names_cover_pim() {
        for l in [
            "entra_id_p2",
            "entra_id_governance",
            "SPE_E5",
            "spe_e5",
            "EMSPREMIUM",
            "Microsoft 365 E5",
            "microsoft  365   e5",
            "Enterprise Mobility + Security E5",
            "Microsoft Entra Suite",
            "Microsoft_Entra_ID_Governance",
            "AAD_PREMIUM_P2",
            "M365EDU_A5_FACULTY",
            "Microsoft Defender Suite",
            "SPE_E5_NOPSTNCONF",
        ] {
            assert!(covers_pim(l), "{l}");
        }
        assert_eq!(plan_of("Microsoft Entra Suite"), Some(Plan::IdGovernance));
        assert_eq!(plan_of("SPE_E5"), Some(Plan::EntraIdP2));
    }

    #[test]
    fn the_former_azure_ad_name_of_p2_still_counts() {
        assert_eq!(
            plan_of("Azure Active Directory Premium P2"),
            Some(Plan::EntraIdP2)
        );
        assert_eq!(plan_of("azure ad  premium p2"), Some(Plan::EntraIdP2));
        assert_eq!(plan_of("Azure Active Directory Premium P1"), None);
    }

    #[test]
    fn p1_products_and_unknown_strings_do_not() {
        for l in [
            "Microsoft 365 E3",
            "SPE_E3",
            "EMS",
            "AAD_PREMIUM",
            // on the page, without AAD_PREMIUM_P2
            "INFORMATION_PROTECTION_COMPLIANCE",
            "IDENTITY_THREAT_PROTECTION_FOR_EMS_E5",
            "Microsoft 365 E5 Compliance",
            "EMSPREMUIM",
            "entra_id_p3",
            "",
        ] {
            assert!(!covers_pim(l), "{l}");
        }
    }

    #[test]
    fn every_product_has_a_name_and_no_two_share_one() {
        let mut seen = std::collections::HashSet::new();
        for p in PRODUCTS {
            assert!(!p.name.is_empty());
            assert!(seen.insert(fold(p.name)), "{}", p.name);
            if let Some(s) = p.sku {
                assert!(seen.insert(s.to_lowercase()), "{s}");
            }
        }
    }
}
